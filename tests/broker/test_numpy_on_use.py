"""numpy under the IB client library: left out of its import, there on the first use of an
eventkit operator that needs it, and numpy itself for whoever imports it afterwards. Each case
is a fresh interpreter, since this one may have numpy loaded already."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = {
    "not imported with the client library": (
        "import sys\n"
        "import ibconsole.broker.ib_client\n"
        "print('numpy' in sys.modules, 'numpy.linalg' in sys.modules)\n",
        "False False",
    ),
    "not imported under PySide6's look at each imported module either": (
        "import sys\n"
        "import PySide6.QtCore\n"
        "import ibconsole.broker.ib_client\n"
        "print('numpy' in sys.modules)\n",
        "False",
    ),
    "eventkit's array operator computes with numpy on first use": (
        "import ibconsole.broker.ib_client\n"
        "from eventkit import Event\n"
        "source = Event()\n"
        "means = source.array(3).mean()\n"
        "seen = []\n"
        "means += seen.append\n"
        "for value in (1.0, 2.0, 6.0):\n"
        "    source.emit(value)\n"
        "print(seen[-1])\n",
        "3.0",
    ),
    "a later import gets numpy itself": (
        "import sys, types\n"
        "import ibconsole.broker.ib_client\n"
        "import numpy\n"
        "print(type(numpy) is types.ModuleType, numpy.linalg.norm([3.0, 4.0]))\n",
        "True 5.0",
    ),
    "numpy imported first is used as it is": (
        "import sys, numpy\n"
        "import ibconsole.broker.ib_client\n"
        "import eventkit.ops.array as ops\n"
        "print(ops.np is numpy)\n",
        "True",
    ),
}


@pytest.mark.parametrize(("code", "printed"), CASES.values(), ids=CASES.keys())
def test_numpy_on_use(code: str, printed: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == printed
