#!/bin/sh
# The image's one entry point: the first argument picks the role, so web, worker, beat and
# the migration job run the same image with the same settings (deploy/README.md).
#   web      gunicorn with gunicorn.conf.py, on $PORT (default 8000)
#   worker   a Celery worker ($CELERY_CONCURRENCY processes, default 2)
#   beat     Celery beat: run exactly one (the manifests make sure of it)
#   migrate  apply migrations, then exit; run it before shifting traffic, never at start-up
# Anything else runs as given, e.g. `docker compose run --rm web python manage.py shell`.
set -eu

role="${1:-web}"
case "$role" in
  web)
    shift
    exec gunicorn nexus.wsgi:application --config gunicorn.conf.py "$@"
    ;;
  worker)
    shift
    exec celery -A nexus worker --loglevel "${DJANGO_LOG_LEVEL:-INFO}" \
      --concurrency "${CELERY_CONCURRENCY:-2}" "$@"
    ;;
  beat)
    shift
    # The schedule file is scratch space: beat's schedule lives in settings.
    exec celery -A nexus beat --loglevel "${DJANGO_LOG_LEVEL:-INFO}" \
      --schedule /tmp/celerybeat-schedule "$@"
    ;;
  migrate)
    shift
    exec python manage.py migrate --no-input "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
