import contextlib
from typing import Any

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import (
    AnonRateThrottle,
    BaseThrottle,
    SimpleRateThrottle,
    UserRateThrottle,
)

from nexus.cache import count_in_window
from nexus.client import client_ip


class _Counted(SimpleRateThrottle):
    """A counter per window instead of DRF's history list.

    DRF keeps every request's timestamp of the last window in one cache entry, read,
    unpickled, trimmed, pickled and written back on every request: at a busy user's rate
    that is kilobytes per request (issue 16). Here each window is one integer that the cache
    increments atomically (with Redis, one round trip for the increment and the previous
    window's read), and the limit is checked against a sliding estimate: this
    window's count plus the previous window's, weighted by how much of it is still inside
    the last `duration` seconds. Bursts across a window edge are refused as DRF refuses
    them. A refused request gives its count back, as DRF does not record refusals. With
    Redis down, the counters read as one and zero, so limits fail open (nexus/cache.py).
    """

    duration: int  # set by SimpleRateThrottle from the rate
    num_requests: int
    _elapsed: float = 0.0

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        current = f"{self.key}:{window}"
        count, previous = count_in_window(
            self.cache, current, f"{self.key}:{window - 1}", timeout=2 * self.duration
        )
        self._elapsed = self.now - window * self.duration
        weight = 1 - self._elapsed / self.duration
        if count + previous * weight <= self.num_requests:
            return True
        with contextlib.suppress(ValueError):  # expired, or the cache just went away
            self.cache.decr(current)
        return self.throttle_failure()

    def wait(self) -> float | None:
        # Until the previous window's weight has shrunk enough, at most to the window's end.
        return max(1.0, self.duration - self._elapsed)


class _ClientAddress(BaseThrottle):
    """Anonymous callers are counted by the trusted client address (nexus/client.py). DRF's
    own get_ident believes X-Forwarded-For from any peer once NUM_PROXIES is set, so a
    client reaching a task directly could pick a fresh address for every request."""

    def get_ident(self, request: Request | HttpRequest) -> str:
        return client_ip(request)


class AnonThrottle(_ClientAddress, _Counted, AnonRateThrottle):
    pass


class UserThrottle(_ClientAddress, _Counted, UserRateThrottle):
    pass


class SearchRateThrottle(UserThrottle):
    """A tighter per-user limit on patient search, the easiest way to harvest records."""

    scope = "search"

    def allow_request(self, request: Request, view: Any) -> bool:
        if not request.query_params.get("search"):
            return True
        return super().allow_request(request, view)


class UploadRateThrottle(UserThrottle):
    """Uploads per user: each one costs storage, hashing and a scan of the bytes."""

    scope = "uploads"

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method != "POST":
            return True
        return super().allow_request(request, view)
