"""The Settings dialog: every setting of the TOML file, checked by the loader, saved with the
trader's comments kept, applied at once and journalled."""

from ibconsole.ui.settings.dialog import SettingsDialog, open_settings_file

__all__ = ["SettingsDialog", "open_settings_file"]
