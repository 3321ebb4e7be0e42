import contextlib
from typing import Any, cast

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import (
    AnonRateThrottle,
    BaseThrottle,
    SimpleRateThrottle,
    UserRateThrottle,
)

from nexus.cache import Counter, count_in_window
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

    def applies(self, request: Any) -> bool:
        """Whether this request counts at all (every request, unless a subclass says)."""
        return True

    def counter(self, key: str, now: float) -> Counter:
        window = int(now // self.duration)
        return Counter(f"{key}:{window}", f"{key}:{window - 1}", 2 * self.duration)

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None or not self.applies(request):
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        counted = _counted(request).pop(self.key, None)
        if counted is None:
            self.now = self.timer()
            counter = self.counter(self.key, self.now)
            count, previous = count_in_window(
                self.cache, counter.key, counter.previous_key, timeout=counter.timeout
            )
        else:  # counted already, with the API token (UserCounts)
            self.now, (count, previous) = counted
            counter = self.counter(self.key, self.now)
        self._elapsed = self.now - int(self.now // self.duration) * self.duration
        weight = 1 - self._elapsed / self.duration
        if count + previous * weight <= self.num_requests:
            return True
        with contextlib.suppress(ValueError):  # expired, or the cache just went away
            self.cache.decr(counter.key)
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

    def applies(self, request: Request) -> bool:
        return bool(request.query_params.get("search"))


class UploadRateThrottle(UserThrottle):
    """Uploads per user: each one costs storage, hashing and a scan of the bytes."""

    scope = "uploads"

    def applies(self, request: Request) -> bool:
        return request.method == "POST"


# Where a request keeps the counts made with its token, by throttle key, until its throttles
# are checked: (the throttle's clock then, (count, previous window's count)).
_COUNTED = "_nexus_throttle_counts"


def _counted(request: Any) -> dict[str, tuple[float, tuple[int, int]]]:
    return cast(dict[str, tuple[float, tuple[int, int]]], getattr(request, _COUNTED, {}))


class UserCounts:
    """The per-user counters a view's throttles will count for a request, counted ahead of
    the throttle check in the round trip that reads the API token (issue 16): before, the
    token and the throttles were a Redis round trip each. BearerTokenAuthentication knows
    the token's user from an earlier request (a token's owner never changes, see ApiToken),
    counts with the token read, and hands the counts over with keep() once the token proves
    to be that user's, or gives them back with give_back() when it does not.

    The counts are made before DRF checks permissions, so a request refused by its role or
    scope (403) also uses a request of its user's budget, which DRF's order would not."""

    def __init__(self, request: Request, user_pk: Any) -> None:
        self.now: dict[str, float] = {}
        self.counters: dict[str, Counter] = {}
        self.cache: Any = None
        context = getattr(request, "parser_context", None) or {}
        view = context.get("view")
        if view is None:
            return
        for throttle in view.get_throttles():
            if (
                not isinstance(throttle, _Counted)
                or not isinstance(throttle, UserRateThrottle)
                or throttle.rate is None
                or not throttle.applies(request)
            ):
                continue
            # UserRateThrottle.get_cache_key() for an authenticated user.
            key = throttle.cache_format % {"scope": throttle.scope, "ident": user_pk}
            self.now[key] = throttle.timer()
            self.counters[key] = throttle.counter(key, self.now[key])
            self.cache = throttle.cache

    def keep(self, request: Request, counts: list[tuple[int, int]]) -> None:
        setattr(
            request,
            _COUNTED,
            {key: (self.now[key], count) for key, count in zip(self.counters, counts, strict=True)},
        )

    def give_back(self) -> None:
        for counter in self.counters.values():
            with contextlib.suppress(ValueError):  # expired, or the cache just went away
                self.cache.decr(counter.key)
