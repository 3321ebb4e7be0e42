"""Liveness and readiness probes. Public by design: they reveal nothing but up/down."""

from collections.abc import Callable

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import split_domain_port, validate_host
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


PROBES = ("/healthz/", "/readyz/", "/metrics")


class ProbesBeforeHostCheckMiddleware:
    """Lets the probes through the host check. An ALB health check, a Cloud Run probe and a
    Prometheus scrape address the task by its IP ("Host: 10.0.1.23:8000"), which
    ALLOWED_HOSTS rightly refuses with 400, taking every task out of service. For GET/HEAD
    of the probe paths only, an unknown Host is replaced by the first allowed one; the
    answer then passes every other middleware (security headers, no-store) as usual. They
    answer plain HTTP too (SECURE_REDIRECT_EXEMPT). Every other path still needs an
    allowed Host."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info in PROBES and request.method in ("GET", "HEAD"):
            allowed = settings.ALLOWED_HOSTS
            raw = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
            domain, _ = split_domain_port(str(raw))
            if allowed and not (domain and validate_host(domain, allowed)):
                request.META["HTTP_HOST"] = allowed[0].lstrip(".")
        return self.get_response(request)
