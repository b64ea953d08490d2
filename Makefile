# The two commands of the README's quick start, and the steps they rest on.
# Each target installs what it needs into .venv first, so a fresh clone works as is.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: serve test lint migrate proto

serve: $(INSTALLED)  ## serve on the embedded defaults (SQLite and blobs under ./var, offline generator without GEMINI_API_KEY)
	$(BIN)/casting serve

test: $(INSTALLED) lint  ## every tier: unit, integration (SQLite, PostgreSQL, S3), e2e
	$(BIN)/pytest

lint: $(INSTALLED)
	$(BIN)/ruff check src tests tools
	$(BIN)/mypy

migrate: $(INSTALLED)  ## bring CASTING_DATABASE_URL (e.g. PostgreSQL) to the head migration
	$(BIN)/casting migrate

proto: $(INSTALLED)  ## regenerate src/casting/v1 after editing proto/
	$(BIN)/python tools/gen_proto.py

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@
