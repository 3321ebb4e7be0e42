# Nexus: `make run` sets up and serves the demo practice; `make test` runs the tests.
# Needs only Python 3.11 and make. uv is installed into .uv/ on first use.
PYTHON ?= python3.11
UV_VERSION := 0.13.9
UV := .uv/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
RUN := $(UV) run --frozen --no-sync

.PHONY: run setup worker beat test test-browser test-postgres screenshots lint typecheck check-deploy \
	deploy-check restore-drill benchmark ci clean

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

setup: .venv/.synced

run: setup
	DJANGO_DEBUG=1 $(RUN) python manage.py migrate --no-input
	DJANGO_DEBUG=1 $(RUN) python manage.py seed_demo
	DJANGO_DEBUG=1 $(RUN) python manage.py runserver 127.0.0.1:8000

test: setup
	$(RUN) python -m pytest -n 2 -q  # -m: puts the project on sys.path for the -p plugins

# The same suite on PostgreSQL and Redis. Override the URLs to use your own database/Redis
# number; parallel worker gwN uses Redis database N-minus-worker (see the README).
PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres
PG_REDIS_URL ?= redis://127.0.0.1:6379/15
test-postgres: setup
	DATABASE_URL=$(PG_URL) REDIS_URL=$(PG_REDIS_URL) $(RUN) python -m pytest -n 2 -q

# Needs Chromium at /usr/bin/chromium (apt-get install chromium); .ci/run installs it.
test-browser: setup
	$(RUN) python -m pytest -m browser -q tests/browser

# Runs the browser journeys and saves the README's pictures into docs/screenshots/.
# The only command that writes tracked files; commit the pictures it changes.
screenshots: setup
	NEXUS_SCREENSHOTS=1 $(RUN) python -m pytest -m browser -q tests/browser

# A Celery worker and beat (they need a broker: set REDIS_URL or CELERY_BROKER_URL).
worker: setup
	DJANGO_DEBUG=1 $(RUN) celery -A nexus worker -l INFO

beat: setup
	mkdir -p var
	DJANGO_DEBUG=1 $(RUN) celery -A nexus worker --beat --queues audit --concurrency 1 \
	  --hostname beat@%h -l INFO --schedule var/celerybeat-schedule

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: setup
	DJANGO_DEBUG=1 $(RUN) mypy .

# Production settings (throwaway secrets) must pass Django's deployment checks.
check-deploy: setup
	DJANGO_SECRET_KEY="$$($(RUN) python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	DJANGO_ALLOWED_HOSTS=nexus.example.org DJANGO_HTTPS=true EMAIL_URL=smtp+tls://nexus@smtp.example.org:587 \
	NEXUS_ENCRYPTION_KEYS="$$($(RUN) python -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')" \
	DATABASE_URL=$(PG_URL) \
	$(RUN) python manage.py check --deploy --fail-level WARNING

# Offline checks of the Dockerfile, docker-compose.yml and deploy/ manifests against their
# schemas and against the settings (deploy/README.md, "Checks"); no Docker engine needed.
deploy-check: setup
	$(RUN) python -m deploy.tools.check
	$(RUN) python -m pytest -q -p no:xdist tests/deploy

# Backs up DATABASE_URL (PostgreSQL), restores it into <database>_drill, checks the copy
# (migrations, audit chain, row counts), prints RTO and RPO, drops the copy. Needs the app's
# usual environment (DJANGO_SECRET_KEY, or DJANGO_DEBUG=1 for the demo) and pg_dump.
restore-drill: setup
	$(RUN) python -m deploy.backup.drill

# Throughput against a seeded PostgreSQL, compared with the floors in docs/performance.md.
benchmark: setup
	DATABASE_URL=$(PG_URL) $(RUN) python benchmarks/run.py

# Everything CI runs (needs PostgreSQL, Redis and Chromium; see .ci/run).
ci:
	.ci/run

clean:
	rm -rf .uv .venv db.sqlite3 var staticfiles
