# Two commands from a fresh clone: `make demo` and `make test`. Each creates .venv and installs the
# project into it (again only when pyproject.toml changes), then runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
STRICT := ibconsole/domain ibconsole/journal ibconsole/sim ibconsole/broker ibconsole/config.py

.PHONY: demo test lint format bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
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
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache

# The desktop bundle: dist/ibconsole/ holds the ibconsole and ibconsole-sim executables (see
# packaging/ibconsole.spec). PyInstaller comes from the `package` extra, installed on first use.
PACKAGE_STAMP := $(VENV)/.package-stamp

.PHONY: package package-check

$(PACKAGE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,package]'
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
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench

# Reliability (bench/chaos.py, bench/soak.py). chaos: 1,000 seeded scenarios of trading under
# faults against the simulator, back to back in one process (about 10 minutes on 2 cores); a
# failing scenario prints its seed and the command that replays it, the last line is the tally.
# soak: an hour of trading compressed into ten minutes with a daily gateway restart each
# simulated day; prints start and end memory, tasks, subscriptions and reconnects.
.PHONY: chaos soak

chaos: $(STAMP)
	$(BIN)/python -m bench.chaos --scenarios 1000

soak: $(STAMP)
	$(BIN)/python -m bench.soak
