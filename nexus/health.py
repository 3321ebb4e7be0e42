"""Liveness and readiness probes. Public by design: they reveal nothing but up/down."""

from collections.abc import Callable

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from kombu import Connection

from nexus import metrics

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


class ProbesBeforeHostCheckMiddleware:
    """Answers the probes before anything reads the Host header. An ALB health check, a
    Cloud Run probe and a Prometheus scrape address the task by its IP ("Host: 10.0.1.23:8000"),
    which ALLOWED_HOSTS rightly refuses with 400, and they speak plain HTTP, which
    SECURE_SSL_REDIRECT would answer with 301: either would take every task out of service.
    Placed right after RequestIdMiddleware; other paths go on to the host check as usual."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probes: dict[str, Callable[[HttpRequest], HttpResponse]] = {
            "/healthz/": healthz,
            "/readyz/": readyz,
            "/metrics": metrics.metrics,
        }
        probe = probes.get(request.path_info)
        if probe is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        try:
            return probe(request)
        except Http404:  # /metrics without its token: a bare 404, like any unknown path
            return HttpResponse(status=404)
