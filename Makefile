# One entry point for newcomers and CI: `make demo` runs the main job on the embedded sandbox,
# `make test` runs every check. Both create .venv from scratch when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: browser install lint typecheck pytest test demo lab bench report mutation sandbox clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# pytest exit code 5 means "nothing collected": for this suite that is a broken layout, not a pass.
# Two workers (pytest-xdist), a test file per worker at a time so module fixtures (one sandbox,
# one browser, one Voila server per module) stay shared; PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
pytest: install
	@$(BIN)/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "ERROR: pytest collected no tests (exit 5) - the test layout is broken"; exit 1; fi; \
	exit $$rc

# Debian chromium for the browser tests (Playwright drives it; `playwright install` cannot
# download browsers here). Installed when missing and we are root; otherwise fail and say how.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian chromium for the browser tests"; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-dejavu-core >/dev/null; \
	  fi; \
	fi
	@test -x $(CHROMIUM) || { echo "ERROR: $(CHROMIUM) is missing: run 'apt-get install chromium' as root"; exit 1; }

test: lint typecheck browser pytest

# the narrated scenario in the terminal, then notebooks/01_quickstart.ipynb executed on the
# embedded sandbox into an HTML report (interactive charts, widget views): build/demo/*.html
demo: install
	$(BIN)/python -m nosana_nb.demo

# JupyterLab on notebooks/ with a sandbox server beside it (NOSANA_SANDBOX_URL: every notebook
# attaches; in-memory, manual clock); Ctrl-C stops both. LAB_ARGS: make lab LAB_ARGS="--port 3002"
LAB_ARGS ?=
lab: install
	$(BIN)/python -m nosana_nb.demo_lab $(LAB_ARGS)

# every benchmark in one process run, one table (workload, size, ours, baseline, ratio, target,
# met?); flags reach the benchmarks: make bench BENCH_ARGS="--jobs 200000 --only frames"
BENCH_ARGS ?=
bench: install
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

# reliability and security figures: chaos run, bad inputs, malformed replies, secret scans,
# endpoint readiness (time-to-ready found by probing vs the boot the sandbox drew)
report: install
	$(BIN)/python bench/report_reliability.py
	$(BIN)/python bench/report_hardening.py
	$(BIN)/python bench/report_endpoints.py

# mutation testing of the critical modules ([tool.mutmut] in pyproject.toml); slow, not in `test`
mutation: install
	$(BIN)/python scripts/mutation_score.py

sandbox: install
	$(BIN)/nosana-nb sandbox

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info mutants

# the deployment dashboard as an app: Voila serves notebooks/05_dashboard.ipynb on the embedded
# sandbox (NOSANA_NETWORK unset); idle kernels of closed pages are culled
.PHONY: app
app: install
	env -u NOSANA_NETWORK $(BIN)/voila notebooks/05_dashboard.ipynb --no-browser --Voila.ip=127.0.0.1 \
	  --MappingKernelManager.cull_idle_timeout=30 --MappingKernelManager.cull_interval=10
