# engage — two commands on a fresh Debian machine (Python 3.11+, Node 20):
#   make run    install everything, load demo data, start the server on embedded defaults
#   make test   install what the tests need, then run the whole suite
# ENGAGE_* variables in the environment pass straight through to the server.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test install js types system-deps lint typecheck bench clean

run: install js
	$(PY) -m engage demo-data
	exec $(PY) -m engage serve

test: install js system-deps
	npm test
	$(PY) -m pytest

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "engage needs Python 3.11+"'
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv >/dev/null; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

# The TS payload types are generated from the msgspec schemas first (signaling/client/payloads.gen.ts).
js: node_modules/.package-lock.json
	npm run --silent build

# After changing signaling/schemas.py: regenerate signaling/client/payloads.gen.ts and commit it
# (tests/unit/test_ts_payload_types.py fails while the checked-in file is stale).
types: $(STAMP) node_modules/.package-lock.json
	PYTHON=$(PY) npm run --silent gen:types

# Debian packages the tests drive for real: Chromium (Playwright) — installed when missing.
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy engage signaling agent_console web_widget analytics
	$(VENV)/bin/lint-imports --no-cache
	npm run --silent typecheck

clean:
	rm -rf $(VENV) node_modules static/dist
