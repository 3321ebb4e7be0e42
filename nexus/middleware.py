"""Request-wide protections: no caching of dynamic responses, and session timeouts."""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

from nexus.errors import AuditUnavailable

# Recording activity on every request would write the session every time; a minute is
# precise enough for a 15-minute idle limit.
_SEEN_PRECISION = 60


class NoStoreMiddleware:
    """Nothing dynamic is cached by browsers or proxies: pages and API answers carry
    patient data. Static files are served (and cached) before this runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_cache_control(response, no_store=True, private=True)
        return response


class SessionTimeoutMiddleware:
    """Signs a staff session out after NEXUS_SESSION_IDLE_SECONDS without a request, and
    after SESSION_COOKIE_AGE in total however active it is (security.md R09)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            session = request.session
            started = session.setdefault("nexus_started_at", now)
            seen = session.get("nexus_seen_at", now)
            idle = now - seen > settings.NEXUS_SESSION_IDLE_SECONDS
            expired = now - started > settings.SESSION_COOKIE_AGE
            if idle or expired:
                # Flushes the server-side session too, so the old cookie is worthless.
                logout(request)
            elif now - seen >= _SEEN_PRECISION or "nexus_seen_at" not in session:
                session["nexus_seen_at"] = now
        return self.get_response(request)


class AuditFailClosedMiddleware:
    """A staff page whose access could not be audited answers 503 and shows nothing
    (the API answers the same through its exception handler)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, AuditUnavailable):
            return HttpResponse(
                exception.detail, status=503, content_type="text/plain; charset=utf-8"
            )
        return None
