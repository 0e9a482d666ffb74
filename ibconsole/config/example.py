"""The commented example settings file: every key at its default."""

from __future__ import annotations

from ibconsole.config.settings import SCHEMA_VERSION

EXAMPLE_CONFIG = f"""\
# ibconsole settings. Every key is optional except schema_version; the values shown are the
# defaults. Any scalar key can also be set from the environment: IBCONSOLE_ plus its path in
# upper case with __ between levels, e.g. IBCONSOLE_RISK__MAX_QUANTITY=5.
schema_version = {SCHEMA_VERSION}
log_level = "INFO"                 # DEBUG, INFO, WARNING, ERROR, CRITICAL
# journal_path = "journal.sqlite"  # relative to this file; default: the platform data folder
default_profile = "tws-paper"

# Connection profiles. Passwords never go here: keyring_entry names the OS keyring entry that
# holds the login handed to gateway_command.
[profiles.tws-paper]
host = "127.0.0.1"
port = 7497                        # TWS live 7496, TWS paper 7497, Gateway live 4001, paper 4002
client_id = 1
read_only = false
account = ""
# gateway_command = ["/opt/ibc/gatewaystart.sh", "-inline"]
# keyring_entry = "ib-paper-login"

[profiles.gateway-paper]
host = "127.0.0.1"
port = 4002
client_id = 1

# Pre-trade checks. "off" switches a limit off.
[risk]
max_quantity = 10                  # contracts per order
max_position = 20                  # contracts, counting working orders as filled
max_notional = "off"               # price x multiplier x quantity, in the contract's currency
price_band_percent = 2             # from the last good price
price_band_ticks = "off"
max_quote_age_seconds = 30
duplicate_window_seconds = 10      # same contract, side and size within this many seconds
max_daily_loss = "off"             # in account currency; orders that reduce a position pass
block_market_orders_without_live_quote = true

# [risk.symbols.MES]               # per-symbol changes to the limits above
# max_quantity = 50

[rollover]
buffer_days = 1                    # business days before the deadline a month stops being front
close_out_warning_days = 2         # business days before the deadline a position must roll
reopen_on_roll = true
fill_timeout_seconds = 30          # a roll as two orders waits this long for each of its orders

# [rollover.rules.CL]              # override a family's roll rule (micros follow their family)
# kind = "business_days"           # or "calendar_days"
# days = 3

[rollover.spread]                  # rolling as one calendar-spread order
prefer_spread = true               # offered first where the exchange lists the spread
ticks_through = 1                  # default limit: spread ticks through the touch
fill_timeout_seconds = 30          # then the dialog offers to leg the remainder

[health]
heartbeat_interval_seconds = 5
heartbeat_timeout_seconds = 5
heartbeat_failures_before_reconnect = 3
heartbeat_window = 100

[health.backoff]
min_delay_seconds = 5              # above the time IB needs to release a clientId
max_delay_seconds = 60
multiplier = 2.0
jitter = "full"                    # or "decorrelated"

[health.breaker]
failure_threshold = 5              # failed connects within window_seconds open the breaker
window_seconds = 300
cooldown_seconds = 120

[market_data]
line_budget = 100                  # market-data lines the console may hold (IB starts at 100)
depth_rows = 10                    # price levels per side in the ladder's depth

[ladder]
far_side_click = "confirm"         # a click beyond the touch: "confirm" a marketable limit, or "stop"
quantity_presets = [1, 2, 5, 10]

[option_chain]
strikes_each_side = 10             # strikes shown above and below the money

# The signal inbox: a loopback HTTP endpoint for TradingView or scripts. Its secret is set from
# the inbox (kept in the OS keyring) or in IBCONSOLE_SIGNAL_SECRET, never here.
[signals]
enabled = false
port = 8787                        # 0 picks a free port
max_age_seconds = 60               # older signals are shown expired and cannot be sent
max_per_minute = 60
max_body_bytes = 8192

# [signals.symbols]                # trade another family than the signal names
# ES = "MES"

[alerts]
sound_enabled = true

[alerts.notify]                    # a desktop notification for each kind
fill = true
reject = true
connection_lost = true
connection_restored = true
breaker_open = true
roll_window = true
must_roll = true
close_out = true
price = true
signal = true

[alerts.sound]
fill = true
reject = true
connection_lost = true
connection_restored = false
breaker_open = true
roll_window = false
must_roll = true
close_out = true
price = true
signal = false
"""
