# The verbs a newcomer needs. Every target is idempotent.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
# The suite runs on this many pytest-xdist workers (tests/conftest.py says how they share it).
TEST_WORKERS ?= 2

.PHONY: help install demo test lint lab app bench clean-reports

help:
	@echo "make demo   set up .venv, load the demo practice, show today's actions, write drafts and reports"
	@echo "make test   set up .venv, check the layers and lint, run the whole test suite"
	@echo "make lab    open JupyterLab on notebooks/"
	@echo "make app    serve the code-free app (Voilà) on 127.0.0.1"
	@echo "make bench  run the benchmarks and print their ratios"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@$(BIN)/followup demo
	@echo
	@echo "== Today's actions =="
	@$(BIN)/followup due --all
	@echo
	@$(BIN)/followup drafts --all --out reports/drafts
	@$(BIN)/followup report --all --out reports/weekly
	@echo
	@echo "Drafts are in reports/drafts/ (a folder per coachee) and weekly reports in reports/weekly/ (open the .html files)."
	@echo
	@echo "Next: run followup as .venv/bin/followup (or first: source .venv/bin/activate, then followup)."
	@echo "  .venv/bin/followup due --all              today's actions, as above"
	@echo "  .venv/bin/followup --help                 every command"
	@echo "The README's examples use the demo unmoved (its today is 2026-11-16), in a store of its own:"
	@echo "  .venv/bin/followup --db data/demo-unmoved.db demo --no-shift"

test: $(STAMP) lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The layers (import-linter's contracts in pyproject.toml) and ruff's rules and format.
lint: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check followup_lib tests benchmarks
	$(BIN)/ruff format --check followup_lib tests benchmarks

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

app: $(STAMP)
	$(BIN)/followup app

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_due.py
	$(BIN)/python benchmarks/bench_store.py
	$(BIN)/python benchmarks/bench_report.py
	$(BIN)/python benchmarks/bench_app.py
	$(BIN)/python benchmarks/bench_mail.py

clean-reports:
	rm -rf reports/
