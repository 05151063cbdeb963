# Tradeoff — `make run` sets up and serves the app; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
export FLASK_APP := wsgi

.PHONY: run test setup vendor db demo serve lint bench clean

run: setup db demo serve ## set up, migrate, load demo data, serve on http://127.0.0.1:5000

setup: $(VENV)/.installed static/vendor/.installed ## Python venv + front-end libraries

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

static/vendor/.installed: package.json package-lock.json scripts/vendor.mjs
	npm ci --no-audit --no-fund
	npm run --silent vendor
	touch $@

vendor: static/vendor/.installed

db: setup ## apply migrations (SQLite in instance/ unless DATABASE_URL is set)
	$(BIN)/flask db upgrade

demo: db ## demo data when the database is empty (idempotent)
	$(BIN)/flask demo --if-empty

serve: ## one process, threads for Socket.IO (the embedded default)
	@echo ""
	@echo "  Tradeoff is running on http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	@echo ""
	$(BIN)/gunicorn --workers 1 --threads 400 --bind $(HOST):$(PORT) --access-logfile - wsgi:app

test: setup ## the whole test suite
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache
