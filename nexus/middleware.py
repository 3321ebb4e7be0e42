"""Request-wide protections: no caching of dynamic responses, session timeouts, and no
change or access that the audit trail could not record."""

import functools
import http
import time
from collections.abc import Callable
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.contrib.auth import logout
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
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


# Nexus uses no camera, microphone, location, payment or USB: a page (or anything injected
# into one) may not ask for them either.
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), "
    "gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), usb=(), "
    "browsing-topics=()"
)


class PermissionsPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


# What a view or decorator can set on a response to change its policy (django-csp).
_CSP_OVERRIDES = tuple(
    f"_csp_{part}{suffix}" for part in ("config", "update", "replace") for suffix in ("", "_ro")
)


@functools.cache
def _settings_policy(*, report_only: bool) -> str:
    return build_policy(report_only=report_only)


@receiver(setting_changed)
def _forget_policy(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _settings_policy.cache_clear()


class CachedPolicyCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, without rebuilding the same header for every response.

    django-csp builds both policies (enforced and report-only) from the settings on every
    response: two dataclass copies and a walk over some thirty directives each, about 5% of
    an API read's CPU (issue 16). A response that used no nonce and has no per-view override
    always gets the settings' policy, so that string is built once per process; anything
    else (a page that used its nonce, a view that changes the policy) goes through
    django-csp unchanged. Same headers, same conditions as django-csp 4.0's
    process_response."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in _CSP_OVERRIDES
        ):
            return super().process_response(request, response)
        if settings.DEBUG and response.status_code in (
            http.HTTPStatus.INTERNAL_SERVER_ERROR,
            http.HTTPStatus.NOT_FOUND,
        ):
            return response  # django-csp leaves Django's debug pages alone
        for header, report_only, setting, exempt in (
            (HEADER, False, "CONTENT_SECURITY_POLICY", "_csp_exempt"),
            (HEADER_REPORT_ONLY, True, "CONTENT_SECURITY_POLICY_REPORT_ONLY", "_csp_exempt_ro"),
        ):
            policy = _settings_policy(report_only=report_only)
            if not policy or header in response or getattr(response, exempt, False) is not False:
                continue
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = policy
        # As django-csp: a nonce asked for after the header is written is an error, not a
        # nonce silently missing from the policy.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
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
    """No access without its audit row (security.md R18). A request that changes things
    runs in one transaction, so its audit rows commit with the change or not at all; when
    an access cannot be recorded the answer is 503, shows nothing, and the change is rolled
    back. (The API's audited viewsets answer the same through their exception handler.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return self.get_response(request)
        with transaction.atomic():
            return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, AuditUnavailable):
            return None
        audit_failed(request)
        return HttpResponse(exception.detail, status=503, content_type="text/plain; charset=utf-8")


def audit_failed(request: HttpRequest) -> None:
    """Undo what this request changed: its audit rows could not be written."""
    if (
        request.method not in ("GET", "HEAD", "OPTIONS")
        and transaction.get_connection().in_atomic_block
    ):
        transaction.set_rollback(True)


class RejectNulBytesMiddleware:
    """A NUL byte in a query string or form is never a real search or value, and
    PostgreSQL refuses it inside any string ("A string literal cannot contain NUL"), which
    surfaced as a 500 from every search box. Answer 400 before a view sees it; JSON bodies
    are refused by the serializers' own NUL check."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            return bad_request(request, "The request contains a NUL character.")
        return self.get_response(request)


def _has_nul(request: HttpRequest) -> bool:
    fields = [request.GET]
    if request.content_type == "application/x-www-form-urlencoded":
        fields.append(request.POST)
    return "\x00" in request.path or any(
        "\x00" in key or any("\x00" in value for value in values)
        for field in fields
        for key, values in field.lists()
    )


def bad_request(request: HttpRequest, detail: str) -> HttpResponse:
    """400 in the API's error shape under /api/, plain text elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": detail, "code": "invalid"}, status=400)
    return HttpResponse(detail, status=400, content_type="text/plain; charset=utf-8")
