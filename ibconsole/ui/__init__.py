"""The Qt user interface: main window, docks, models and widgets."""
