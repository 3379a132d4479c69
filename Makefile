# Two commands on a fresh machine: `make run` (local stack) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck package demo bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m infrastructure.local

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy app.py chalicelib infrastructure replywindow_cli bench
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy app.py chalicelib infrastructure replywindow_cli bench

package: $(STAMP)
	$(BIN)/python -m infrastructure.package build

demo: $(STAMP)
	$(BIN)/python -m infrastructure.local.demo

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf build .replywindow
