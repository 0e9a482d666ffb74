# Two commands from a fresh clone: `make demo` and `make test`. Each creates .venv and installs the
# project into it at the versions of constraints.txt (again only when pyproject.toml or the lock
# changes), then runs. PYTHON picks the interpreter: make test PYTHON=python3.13
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
STRICT := ibconsole/domain ibconsole/journal ibconsole/sim ibconsole/broker ibconsole/config
# Every package of every extra, pinned for Python 3.11 and newer on Linux, macOS and Windows
# (markers where a version depends on them); written by `make lock` and `make upgrade`.
LOCK   := constraints.txt

.PHONY: demo test lint format bench clean lock upgrade test-ib-insync

# A venv that held ib_insync (before the move to ib_async) loses it first: ib_insync's eventkit
# and ib_async's aeventkit install the same top-level package.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@! $(BIN)/python -m pip show --quiet ib_insync 2>/dev/null || \
		$(BIN)/python -m pip uninstall --quiet --yes ib_insync eventkit aeventkit
	$(BIN)/python -m pip install --quiet --constraint $(LOCK) --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint $(LOCK) -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ibconsole --demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict $(STRICT)
	$(BIN)/mypy ibconsole
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

clean:
	rm -rf $(VENV) $(INSYNC_VENV) $(UV_VENV) build dist *.egg-info .mypy_cache .ruff_cache

# The lock. `make lock` after editing the dependencies in pyproject.toml: new packages are
# resolved, every other pin stays. `make upgrade` moves every pin to the newest release the
# ranges of pyproject.toml allow; run make test (and make test-ib-insync) before committing it.
# Besides the extras, the lock pins pip and the ib_insync that make test-ib-insync installs.
UV_VENV    := .venv-uv
UV_VERSION := 0.13.9
LOCK_EXTRA := pip ib_insync==0.9.86
UV_COMPILE := $(UV_VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 \
	--all-extras --custom-compile-command 'make lock' --output-file $(LOCK) pyproject.toml -

$(UV_VENV)/bin/uv:
	$(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet uv==$(UV_VERSION)

lock: $(UV_VENV)/bin/uv
	printf '%s\n' $(LOCK_EXTRA) | $(UV_COMPILE)

upgrade: $(UV_VENV)/bin/uv
	printf '%s\n' $(LOCK_EXTRA) | $(UV_COMPILE) --upgrade

# The broker, UI and end-to-end suites (and the strict type check) on ib_insync 0.9.86, for
# whoever pins it: a venv of its own, built afresh, where ib_insync replaces ib_async (both ship
# a top-level eventkit, so they never share an environment).
INSYNC_VENV  := .venv-ib-insync
INSYNC_STAMP := $(INSYNC_VENV)/.installed-stamp

$(INSYNC_STAMP): pyproject.toml $(LOCK)
	rm -rf $(INSYNC_VENV)
	$(PYTHON) -m venv $(INSYNC_VENV)
	$(INSYNC_VENV)/bin/python -m pip install --quiet --constraint $(LOCK) --upgrade pip
	$(INSYNC_VENV)/bin/python -m pip install --quiet --constraint $(LOCK) -e '.[test]'
	$(INSYNC_VENV)/bin/python -m pip uninstall --quiet --yes ib_async aeventkit
	$(INSYNC_VENV)/bin/python -m pip install --quiet --constraint $(LOCK) ib_insync
	@touch $(INSYNC_STAMP)

test-ib-insync: $(INSYNC_STAMP)
	$(INSYNC_VENV)/bin/python -c 'from ibconsole.broker.ib_client import LIBRARY; assert LIBRARY == "ib_insync", LIBRARY'
	$(INSYNC_VENV)/bin/mypy --strict $(STRICT)
	QT_QPA_PLATFORM=offscreen $(INSYNC_VENV)/bin/python -m pytest tests/broker tests/ui tests/e2e

# The desktop bundle: dist/ibconsole/ holds the ibconsole and ibconsole-sim executables (see
# packaging/ibconsole.spec). PyInstaller comes from the `package` extra, installed on first use.
PACKAGE_STAMP := $(VENV)/.package-stamp

.PHONY: package package-check

$(PACKAGE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --constraint $(LOCK) -e '.[test,package]'
	@touch $(PACKAGE_STAMP)

package: $(PACKAGE_STAMP)
	$(BIN)/python resources/make_platform_icons.py
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
		packaging/ibconsole.spec
	du -sh dist/ibconsole

# Runs the built console off screen (demo, screenshot, start-up time), trades a handshake with the
# built simulator through ib_insync, and on Linux checks its libraries and install.sh.
package-check: $(STAMP)
	$(BIN)/python packaging/check_bundle.py dist/ibconsole

# The benchmarks of DESIGN.md section 6 against the simulator (~7 minutes on 2 cores): one table
# on stdout, every figure in bench/results/results.json. py-spy (for `python -m bench --profile`)
# comes from the `bench` extra, installed on first use.
BENCH_STAMP := $(VENV)/.bench-stamp

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --constraint $(LOCK) -e '.[test,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench

# Reliability (bench/chaos/, bench/soak.py). chaos: 2,000 seeded scenarios of trading under
# faults against the simulator, back to back in one process (about 10 minutes a thousand); a
# failing scenario prints its seed and the command that replays it, the last line is the tally.
# soak: an hour of trading compressed into ten minutes, the window with the ladder, the chain and
# the signal inbox open, a daily gateway restart each simulated day; the last line names each
# figure (memory, tasks, Qt objects, timers, handlers, lines at the console and the simulator)
# and its verdict, and the status is 1 when one grew.
.PHONY: chaos soak

chaos: $(STAMP)
	$(BIN)/python -m bench.chaos --scenarios 2000

soak: $(STAMP)
	$(BIN)/python -m bench.soak
