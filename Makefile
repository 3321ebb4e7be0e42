# Nexus: `make run` sets up and serves the demo practice; `make test` runs the tests.
# Needs only Python 3.11 and make. uv is installed into .uv/ on first use.
PYTHON ?= python3.11
UV_VERSION := 0.13.9
UV := .uv/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
RUN := $(UV) run --frozen --no-sync

.PHONY: run setup test test-browser test-postgres lint typecheck check-deploy ci clean

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

# Needs Chromium at /usr/bin/chromium (apt-get install chromium); .ci/run installs it.
test-browser: setup
	$(RUN) python -m pytest -m browser -q tests/browser

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: setup
	DJANGO_DEBUG=1 $(RUN) mypy .

clean:
	rm -rf .uv .venv db.sqlite3 var staticfiles
