"""The environment variables the console reads beside its settings file."""

from __future__ import annotations

ENV_PREFIX = "IBCONSOLE_"  # IBCONSOLE_<KEY PATH>: one setting each (see ibconsole.config)
CONFIG_PATH_VARIABLE = "IBCONSOLE_CONFIG"  # the settings file to read
# The signal inbox's shared secret for headless use: read by the inbox, never a setting.
SIGNAL_SECRET_VARIABLE = "IBCONSOLE_SIGNAL_SECRET"
