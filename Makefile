# SLO Engine: `make run` (demo on SQLite, no services needed) and `make test`
# (the whole suite on PostgreSQL, Redis, a Celery worker and Prometheus).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip -q --disable-pip-version-check

# Tests run on the real services; override either from the environment.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/slo_engine
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-dev services system-deps lint schema benchmark worker beat clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PIP) install -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_admin
	$(PY) manage.py setup_periodic_tasks
	$(PY) manage.py seed_demo
	@echo "Serving on http://$(HOST):$(PORT)/  (admin: http://$(HOST):$(PORT)/admin/)"
	$(PY) manage.py runserver $(HOST):$(PORT) --noreload

services:
	@bash scripts/ensure_services.sh "$(TEST_DATABASE_URL)"

system-deps:
	@bash scripts/ensure_system_packages.sh

test: install-dev services system-deps
	DATABASE_URL="$(TEST_DATABASE_URL)" REDIS_URL="$(TEST_REDIS_URL)" \
		$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null
	DATABASE_URL="$(TEST_DATABASE_URL)" REDIS_URL="$(TEST_REDIS_URL)" \
		$(PY) -m pytest --create-db $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .

schema: install
	$(PY) manage.py spectacular --validate --fail-on-warn --file schema.yaml

benchmark: install-dev services
	DATABASE_URL="$(TEST_DATABASE_URL)" REDIS_URL="$(TEST_REDIS_URL)" $(PY) manage.py migrate --noinput
	DATABASE_URL="$(TEST_DATABASE_URL)" REDIS_URL="$(TEST_REDIS_URL)" $(PY) manage.py benchmark $(BENCH_ARGS)

worker: install
	$(VENV)/bin/celery -A slo_engine worker -l info

beat: install
	$(VENV)/bin/celery -A slo_engine beat -l info

clean:
	rm -rf $(VENV) staticfiles test-artifacts db.sqlite3
