#!/bin/sh
# The image's one entry point: the first argument picks the role, so web, worker, beat and
# the migration job run the same image with the same settings (deploy/README.md).
#   web      gunicorn with gunicorn.conf.py, on $PORT (default 8000)
#   worker   a Celery worker ($CELERY_CONCURRENCY processes, default 2)
#   beat     Celery beat, with one embedded worker for the "audit" queue (sealing the
#            audit chain as the schema owner, NEXUS_AUDIT_OWNER_DATABASE_URL): run exactly
#            one (the manifests make sure of it)
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
    # The schedule file is scratch space: beat's schedule lives in settings. Only this
    # process works the "audit" queue, so only it needs the owner's database URL; the
    # workers and web run as the app role, which may not change audit rows.
    exec celery -A nexus worker --beat --queues audit --concurrency 1 \
      --hostname "beat@%h" --loglevel "${DJANGO_LOG_LEVEL:-INFO}" \
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
