"""numpy for the IB client library's event operators, imported on their first use.

``eventkit`` (under ``ib_async`` and ``ib_insync``) imports numpy for its array operators, which
the console never uses; numpy's import is a tenth of a second or more of a cold start, before
the window can paint. While the client library is imported, ``numpy`` names a stand-in that
imports numpy on its first attribute read and hands over from it; once the import is done the
stand-in is taken out of ``sys.modules``, so everything else importing numpy afterwards
(pyqtgraph, once the chart is built) gets numpy itself.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import sys
import types
from collections.abc import Iterator
from typing import Any

_NAME = "numpy"


class _NumpyOnUse(types.ModuleType):
    """Stands for numpy in the modules that import it while it is in place."""

    def __init__(self) -> None:
        super().__init__(_NAME)
        # Read by the import system on every ``import numpy`` that finds this module.
        self.__spec__ = importlib.machinery.ModuleSpec(_NAME, None)

    def __getattr__(self, name: str) -> Any:
        # Only names this stand-in lacks come here: numpy's own, on their first read. Dunder
        # names are what introspection asks any module for (``inspect``, PySide6's look at each
        # imported module): they do not import numpy.
        if name.startswith("__"):
            raise AttributeError(name)
        if sys.modules.get(_NAME) is self:
            del sys.modules[_NAME]
        numpy = importlib.import_module(_NAME)
        self.__dict__.update(vars(numpy))  # later reads find numpy's names here at once
        return getattr(numpy, name)


@contextlib.contextmanager
def numpy_on_use() -> Iterator[None]:
    """Within: a first ``import numpy`` gets the stand-in (numpy itself if already imported)."""
    if _NAME in sys.modules:
        yield
        return
    stand_in = _NumpyOnUse()
    sys.modules[_NAME] = stand_in
    try:
        yield
    finally:
        if sys.modules.get(_NAME) is stand_in:
            del sys.modules[_NAME]
