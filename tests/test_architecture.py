"""The import-linter contracts of pyproject.toml hold, and fail when a boundary is crossed; the
tests, benchmarks and packaging scripts, outside import-linter's reach, import the IB client
library only through the broker's seam too."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": str(LINT_IMPORTS.parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _copy_with(tmp_path: Path, relative: str, source: str) -> Path:
    """A copy of the package with one module replaced, and the project's contracts."""
    shutil.copytree(ROOT / "ibconsole", tmp_path / "ibconsole")
    (tmp_path / relative).write_text(source, encoding="utf-8")
    config = tmp_path / "pyproject.toml"
    with (ROOT / "pyproject.toml").open("rb") as file:
        contracts = tomllib.load(file)["tool"]["importlinter"]
    lines = ["[tool.importlinter]", 'root_packages = ["ibconsole"]']
    lines.append("include_external_packages = true")
    for contract in contracts["contracts"]:
        lines.append("[[tool.importlinter.contracts]]")
        for key, value in contract.items():
            lines.append(f"{key} = {_toml(value)}")
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value) + '"'


def test_the_contracts_hold_for_the_project() -> None:
    result = _lint(ROOT / "pyproject.toml", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        (
            "ibconsole/domain/products.py",
            "import PySide6.QtCore\n",
            "The domain is pure",
        ),
        (
            "ibconsole/sim/rates.py",
            "import ibconsole.domain.orders\n",
            "The simulator is an independent peer",
        ),
        (
            "ibconsole/journal/errors.py",
            "import ib_insync\n",
            "Only the broker's client seam imports the IB client library",
        ),
        (
            "ibconsole/broker/probe.py",
            "from ib_async import IB\n",
            "Only the broker's client seam imports the IB client library",
        ),
        (
            "ibconsole/ui/bridge.py",
            "from eventkit import Event\n",
            "Only the broker's client seam imports the IB client library",
        ),
        (
            "ibconsole/domain/bars.py",
            "import ibconsole.broker.mapping\n",
            "Layers: ui -> broker -> journal -> domain",
        ),
    ],
)
def test_a_crossed_boundary_breaks_its_contract(
    tmp_path: Path, module: str, source: str, broken: str
) -> None:
    config = _copy_with(tmp_path, module, source)
    result = _lint(config, tmp_path)
    assert result.returncode != 0
    assert f"{broken}" in result.stdout
    assert "BROKEN" in result.stdout


CLIENT_LIBRARIES = frozenset({"ib_async", "ib_insync", "eventkit"})
SEAM = ROOT / "ibconsole" / "broker" / "ib_client.py"


def _client_imports(path: Path) -> list[str]:
    """``file:line`` of every import of the IB client library in one source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name.partition(".")[0] in CLIENT_LIBRARIES for name in names):
            found.append(f"{path}:{node.lineno}")
    return found


def test_nothing_but_the_seam_imports_the_client_library() -> None:
    # The suites run on ib_async and on ib_insync (make test-ib-insync) only if they, too, take
    # every name from ibconsole.broker.ib_client.
    sources = [
        path
        for folder in ("ibconsole", "tests", "bench", "packaging")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != SEAM
    ]
    assert len(sources) > 100
    assert [hit for path in sources for hit in _client_imports(path)] == []
    assert _client_imports(SEAM)


@pytest.mark.parametrize(
    "source",
    [
        "from ib_insync import IB\n",
        "import ib_async.util\n",
        "def f():\n    from eventkit import Event\n",
        "from ib_insync.decoder import Decoder\n",
    ],
)
def test_a_direct_client_import_is_found(tmp_path: Path, source: str) -> None:
    module = tmp_path / "test_x.py"
    module.write_text(source, encoding="utf-8")
    assert _client_imports(module) == [f"{module}:{source.count(chr(10))}"]
