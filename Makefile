# OrderSync: `make run` starts the demo, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
EMULATOR_PORT ?= 8765
# The PostgreSQL and Redis that the second half of `make test` uses.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/ordersync
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test lint install migrate messages bench clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

# Demo defaults: SQLite, filesystem broker, and the Metrika emulator standing in
# for both the Metrika API and Yandex OAuth.
run: migrate
	$(PY) manage.py seed_demo
	@echo "OrderSync: http://127.0.0.1:$(PORT)/  (Ctrl-C stops everything)"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" WEB_PORT=$(PORT) EMULATOR_PORT=$(EMULATOR_PORT) \
	METRIKA_API_URL="$${METRIKA_API_URL:-http://127.0.0.1:$(EMULATOR_PORT)}" \
	YANDEX_OAUTH_URL="$${YANDEX_OAUTH_URL:-http://127.0.0.1:$(EMULATOR_PORT)}" \
	YANDEX_LOGIN_URL="$${YANDEX_LOGIN_URL:-http://127.0.0.1:$(EMULATOR_PORT)}" \
	YANDEX_OAUTH_CLIENT_ID="$${YANDEX_OAUTH_CLIENT_ID:-ordersync-demo}" \
	YANDEX_OAUTH_CLIENT_SECRET="$${YANDEX_OAUTH_CLIENT_SECRET:-ordersync-demo-secret}" \
	$(VENV)/bin/honcho start -f Procfile

# Fast tests on SQLite; then, where PostgreSQL and Redis answer, the Django suite
# again on PostgreSQL with the integration tests that run a real Celery worker.
test: install
	@if $(PY) -m ordersync.core.probe "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"; then \
		echo "== SQLite: unit, engine, client and browser tests"; \
		$(PY) -m pytest -m "not integration" -q || exit $$?; \
		echo "== PostgreSQL + Redis + real worker"; \
		DATABASE_URL="$(TEST_DATABASE_URL)" CELERY_BROKER_URL="$(TEST_REDIS_URL)" \
		$(PY) -m pytest -q -m "not browser" --ignore=tests/orderfile --ignore=tests/metrika || exit $$?; \
	else \
		echo "== PostgreSQL or Redis not reachable: SQLite only, integration tests skipped"; \
		$(PY) -m pytest -m "not integration" -q; \
	fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

messages: install
	$(PY) manage.py makemessages -l ru -l en --ignore '.venv/*' --ignore 'var/*' --no-obsolete
	$(PY) manage.py compilemessages --ignore '.venv'

clean:
	rm -rf var staticfiles
