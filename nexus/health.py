"""Liveness and readiness probes. Public by design: they reveal nothing but up/down."""

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from kombu import Connection

log = structlog.get_logger(__name__)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache() -> None:
    cache.set("readyz", "1", timeout=5)
    if cache.get("readyz") != "1":
        raise RuntimeError("cache did not return what was stored")


def _broker() -> None:
    if settings.CELERY_BROKER_URL == "memory://":
        return  # Tasks run in-process; there is no broker to reach.
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1)


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database, "cache": _cache, "broker": _broker}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # A probe reports every failure rather than raising.
            log.warning("readyz.check_failed", check=name, error=type(exc).__name__)
            results[name] = "unavailable"
    if results["database"] != "ok":
        status = "unavailable"
    elif all(v == "ok" for v in results.values()):
        status = "ok"
    else:
        # Without the cache or broker the app still serves (sessions and tokens from the
        # database, rate limits open, tasks wait): report it, but stay in rotation.
        status = "degraded"
    return JsonResponse(
        {"status": status, **results}, status=503 if status == "unavailable" else 200
    )
