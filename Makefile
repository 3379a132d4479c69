# Two commands on a fresh machine: `make run` (local stack) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck package demo bench clean browser lock

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements-dev.txt
	touch $(STAMP)

# The lock files, after an edit of requirements.in or requirements-dev.in: every package
# pinned with its hashes (requirements.txt is what ships in the Lambda zip), the tools locked
# to the same versions the zip has.
LOCK := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links

lock: $(STAMP)
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK) -o requirements.txt requirements.in
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK) -o requirements-dev.txt requirements-dev.in

run: $(STAMP)
	$(BIN)/python -m infrastructure.local

# The browser tests (tests/browser/) drive Debian's Chromium: Playwright's own browser download
# cannot be reached from every machine, a distribution package can. Installed when missing, as
# root (CI is) or through passwordless sudo; otherwise stop and say why: never skip them silently.
CHROMIUM := /usr/bin/chromium

browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else echo "make test: $(CHROMIUM) is missing and this user can neither run apt-get as" \
	    "root nor sudo without a password: install the 'chromium' package" >&2; exit 1; fi; \
	  echo "Installing chromium for the browser tests (apt-get)"; \
	  $$SUDO apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
	@test -x $(CHROMIUM) || { echo "make test: $(CHROMIUM) still missing after apt-get" >&2; \
	  exit 1; }

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/mypy app.py chalicelib infrastructure replywindow_cli bench tests
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy app.py chalicelib infrastructure replywindow_cli bench tests

package: $(STAMP)
	$(BIN)/python -m infrastructure.package build

demo: $(STAMP)
	$(BIN)/python -m infrastructure.local.demo

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf build .replywindow
