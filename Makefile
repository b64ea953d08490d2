# The two commands of the README's quick start, and the steps they rest on.
# Each target installs what it needs into .venv first, so a fresh clone works as is.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# buf (contract lint, breaking check, buf curl) and the Node.js example client's libraries.
NODE_INSTALLED := node_modules/.installed

.PHONY: serve test lint migrate collect proto chromium bench

serve: $(INSTALLED)  ## serve on the embedded defaults (SQLite and blobs under ./var, offline generator without GEMINI_API_KEY)
	$(BIN)/casting serve

test: $(INSTALLED) $(NODE_INSTALLED) chromium lint  ## every tier: unit, integration (SQLite, PostgreSQL, S3), e2e
	$(BIN)/pytest

bench: $(INSTALLED)  ## benchmarks against the obvious alternatives (bench/README.md); BENCH_FLAGS=--quick for a smoke run
	$(BIN)/python -m bench $(BENCH_FLAGS)

lint: $(INSTALLED)
	$(BIN)/ruff check src tests tools bench
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	$(BIN)/kubernetes-validate --strict --quiet -k 1.27.0 deploy/kubernetes/*/*.yaml
	$(BIN)/kubernetes-validate --strict --quiet deploy/kubernetes/*/*.yaml

migrate: $(INSTALLED)  ## bring CASTING_DATABASE_URL (e.g. PostgreSQL) to the head migration
	$(BIN)/casting migrate

collect: $(INSTALLED)  ## collect garbage once: expired previews, unreferenced images and blobs (the server also does it every CASTING_COLLECT_INTERVAL_SECONDS)
	$(BIN)/casting collect

proto: $(INSTALLED)  ## regenerate src/casting/v1 after editing proto/
	$(BIN)/python tools/gen_proto.py

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# No install scripts: buf's launcher finds its platform binary (an optional dependency) at run time.
$(NODE_INSTALLED): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

# The console's browser tests drive Debian's Chromium through its chromedriver (CI runs as root).
chromium:
	@test -x /usr/bin/chromium && test -x /usr/bin/chromedriver || \
		(apt-get update && apt-get install -y chromium chromium-driver)
