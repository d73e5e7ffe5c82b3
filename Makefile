# Every target sets up what it needs first (scripts/setup.sh is quick when nothing changed).
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test notebooks bench lint clean

setup:
	@scripts/setup.sh dev

demo: setup
	$(VENV)/bin/chainrule train --out out

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check autograd nn chainrule_cli tests bench
	$(VENV)/bin/mypy

notebooks:
	@scripts/setup.sh notebooks
	$(VENV)/bin/jupyter lab notebooks

bench: setup
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
