# syntax=docker/dockerfile:1.7
# One image for every role: web, worker, beat and migrate (deploy/docker-entrypoint.sh).
#   docker build -t nexus:$(git rev-parse --short HEAD) --build-arg GIT_SHA=$(git rev-parse HEAD) .
# Builder and runtime use the same Python base, so the virtualenv's interpreter path holds.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /src
# Only the lock decides what is installed: the locked runtime dependencies, no dev group.
# psycopg[binary] brings its own libpq, so no compiler or -dev package is needed.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --locked --no-dev --no-install-project
# google-api-python-client ships every Google API's discovery document (110 MB); Nexus
# builds only Gmail v1 from it (integrations/gmail/client.py, static_discovery=True).
RUN find /opt/venv/lib/python3.11/site-packages/googleapiclient/discovery_cache/documents \
      -type f ! -name 'gmail.v1.json' -delete

FROM ${PYTHON_IMAGE} AS runtime
ARG GIT_SHA=unknown
ARG VERSION=0.1.0
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="Nexus" \
      org.opencontainers.image.description="Practice management for allied-health clinics" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later" \
      org.opencontainers.image.revision="${GIT_SHA}" \
      org.opencontainers.image.version="${VERSION}"
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=nexus.settings \
    NEXUS_ACCESS_LOG=json \
    PORT=8000
# A numeric user, so ECS "user" and Kubernetes runAsNonRoot can check it. The code stays
# owned by root: the app cannot rewrite itself.
RUN groupadd --system --gid 10001 nexus \
 && useradd --system --uid 10001 --gid nexus --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin nexus
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY . /app
# Static files are built into the image and served by WhiteNoise. Settings import with
# throwaway values only: no database, Redis, bucket or real secret exists at build time
# (tests/deploy/test_image_settings.py runs these two commands with this environment).
RUN DJANGO_SECRET_KEY=build-only-not-a-secret \
    NEXUS_ENCRYPTION_KEYS=YnVpbGQtb25seS1rZXktbm90LWEtc2VjcmV0LTAwMDA= \
    EMAIL_URL=dummymail:// \
    python manage.py collectstatic --no-input \
 && DJANGO_SECRET_KEY=build-only-not-a-secret \
    NEXUS_ENCRYPTION_KEYS=YnVpbGQtb25seS1rZXktbm90LWEtc2VjcmV0LTAwMDA= \
    EMAIL_URL=dummymail:// \
    python manage.py check
USER 10001:10001
EXPOSE 8000
# Only Docker and Compose read this; Cloud Run and ECS have their own probes on /healthz/.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz/' % os.environ.get('PORT', '8000'), timeout=4)"]
ENTRYPOINT ["/app/deploy/docker-entrypoint.sh"]
CMD ["web"]
