# Every target sets up what it needs first (scripts/setup.sh is quick when nothing changed).
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test notebooks docs bench lint clean

setup:
	@scripts/setup.sh dev

demo: setup
	$(VENV)/bin/chainrule train --out out

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check autograd nn chainrule_cli tests bench
	$(VENV)/bin/mypy

# JupyterLab refuses to start as root without --allow-root (containers often run as root)
notebooks:
	@scripts/setup.sh notebooks
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks

# the documentation site, from the committed notebooks and the docstrings: offline, warnings are errors
docs:
	@scripts/setup.sh docs
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

bench: setup
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis docs/_build
