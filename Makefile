# engage — two commands on a fresh Debian machine (Python 3.11+, Node 20):
#   make run    install everything, load demo data, start the server on embedded defaults
#   make test   install what the tests need, then run the whole suite
# ENGAGE_* variables in the environment pass straight through to the server.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test install lock lock-upgrade js types system-deps lint typecheck bench clean

# pytest-xdist workers for `make test`; each has its own redis-server and nx-27017.
# Measured on 2 cores: 2, 3 and 4 workers take the same time; 6 is slower (README).
TEST_WORKERS ?= 3

run: install js
	$(PY) -m engage demo-data
	exec $(PY) -m engage serve

test: install js system-deps
	npm test
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

install: $(STAMP)

# Exactly the versions in requirements.lock (hash-checked), then engage itself on top.
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "engage needs Python 3.11+"'
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv >/dev/null; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	touch $(STAMP)

# requirements.lock: every Python package of engage and its `dev` extra, pinned with hashes,
# for Python 3.11+ on any platform. `make lock` re-resolves after pyproject.toml changed,
# keeping the current pins; `make lock-upgrade` moves everything to the newest allowed.
UV   := $(VENV)/bin/uv
LOCK := $(UV) pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" --quiet -o requirements.lock

lock: $(UV)
	$(LOCK)

lock-upgrade: $(UV)
	$(LOCK) --upgrade

# Only uv, at its locked version: the rest of the lock may be what is being repaired.
$(UV):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $$(grep -oE '^uv==[^ ]+' requirements.lock)

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
