"""A per-address limit for the public pages, which have no user to throttle (the API uses
DRF's throttles). Fixed windows in the cache: simple, shared by every worker through Redis.
The address is the trusted client address (nexus.client), not a spoofable header."""

import time

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from nexus.api.throttling import UserThrottle
from nexus.client import client_ip


def rate_limited(
    request: HttpRequest, *, scope: str, limit: int, per_seconds: int
) -> HttpResponse | None:
    """None when the request may go ahead; otherwise the 429 to send back."""
    window = int(time.time() // per_seconds)
    key = f"ratelimit:{scope}:{client_ip(request)}:{window}"
    if cache.add(key, 1, timeout=per_seconds):
        return None
    try:
        count = cache.incr(key)
    except ValueError:
        return None
    if count <= limit:
        return None
    retry_after = per_seconds - int(time.time()) % per_seconds
    response = HttpResponse(
        "Too many requests from your connection. Please wait a minute and try again.",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(retry_after)
    return response


class _StaffSearchThrottle(UserThrottle):
    # The API's search scope and cache keys: one budget per person (NEXUS_RATE_SEARCH)
    # whether they search through the API or the staff pages.
    scope = "search"


def search_limited(request: HttpRequest) -> HttpResponse | None:
    """None when this patient search may run; otherwise the 429 to send back."""
    if not request.GET.get("q", "").strip():
        return None
    throttle = _StaffSearchThrottle()
    if throttle.allow_request(request, None):
        return None
    response = HttpResponse(
        "Too many searches in a short time. Please wait a moment and try again.",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(int(throttle.wait() or 1) + 1)
    return response
