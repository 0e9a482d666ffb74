"""PySide6's per-import scan, answered from the file's bytes: the same answer as PySide6's own
for every module this test run has loaded, from a file or not."""

from __future__ import annotations

import sys
from types import ModuleType

import ibconsole.domain.orders
import ibconsole.ui.main_window  # noqa: F401 - a module with Qt (importing ibconsole.ui quickens)
from ibconsole.ui.pyside_import_scan import Scan, quicken_pyside_import_scan


def _scan() -> Scan:
    scan: Scan = sys.modules["shibokensupport.feature"]._mod_uses_pyside
    return scan


def test_the_scan_is_quickened_once() -> None:
    quick = _scan()
    assert getattr(quick, "__wrapped__", None) is not None
    assert quicken_pyside_import_scan() is True
    assert _scan() is quick  # not wrapped twice


def test_the_quick_scan_answers_as_pyside_does_for_every_loaded_module() -> None:
    quick = _scan()
    slow: Scan = quick.__wrapped__
    modules = [module for module in list(sys.modules.values()) if isinstance(module, ModuleType)]
    answers = {module.__name__: (quick(module), slow(module)) for module in modules}
    assert {name for name, (q, s) in answers.items() if q != s} == set()
    # Both kinds are among them: the console's Qt modules, and modules without Qt.
    assert answers["ibconsole.ui.main_window"] == (True, True)
    assert answers["ibconsole.domain.orders"] == (False, False)
    assert answers["sys"] == (False, False)  # built in: no file, asked PySide6's way
