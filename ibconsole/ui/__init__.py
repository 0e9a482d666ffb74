"""The Qt user interface: main window, docks, models and widgets."""

from ibconsole.ui.pyside_import_scan import quicken_pyside_import_scan

quicken_pyside_import_scan()
