"""Keeping to Xero's limits per organisation: 60 calls a minute, 5 at once (§3.5).

Every Xero call goes through `xero_call_slot`. The state lives in Django's cache (Redis in
production), so every worker process and thread shares it:

* start times: each call takes its own slot on a grid XERO_CALL_SPACING_SECONDS apart
  (`cache.add` is atomic, so two processes never take one slot), then waits for it;
* at most XERO_MAX_CONCURRENT calls in flight, each holding one of that many keys;
* after a 429 every caller waits until its Retry-After has passed.

Time comes from `clock`, which tests replace with a virtual clock so that a run of a
hundred invoices (several minutes of Xero's time) needs no real minutes.
"""

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from django.conf import settings
from django.core.cache import cache


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """Time that passes only when someone waits: for tests."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            target = self._now + max(seconds, 0.0)
            self._now = max(self._now, target)


clock: Clock = WallClock()
_POLL = 0.05
# Slots are claimed this far ahead at most; beyond it a caller waits and tries again
# rather than queueing forever behind a long backlog.
_SLOT_TTL = 600


def _key(tenant_id: str, name: str) -> str:
    return f"xero:{tenant_id}:{name}"


def xero_pause(tenant_id: str, seconds: float) -> None:
    """Xero said 429: nobody calls this organisation until `seconds` have passed."""
    until = clock.now() + seconds
    current = cache.get(_key(tenant_id, "pause"))
    if current is None or float(current) < until:
        cache.set(_key(tenant_id, "pause"), until, timeout=int(seconds) + 60)


def _wait_out_pause(tenant_id: str) -> None:
    while True:
        until = cache.get(_key(tenant_id, "pause"))
        wait = float(until) - clock.now() if until is not None else 0.0
        if wait <= 0:
            return
        clock.sleep(wait)


def _claim_start(tenant_id: str) -> float:
    spacing = settings.XERO_CALL_SPACING_SECONDS
    hint_key = _key(tenant_id, "next")
    slot = max(math.ceil(clock.now() / spacing), int(cache.get(hint_key) or 0))
    while not cache.add(_key(tenant_id, f"slot:{slot}"), 1, timeout=_SLOT_TTL):
        slot += 1
    cache.set(hint_key, slot + 1, timeout=_SLOT_TTL)
    return slot * spacing


@contextmanager
def _concurrency(tenant_id: str) -> Iterator[None]:
    lease = int(settings.XERO_TIMEOUT_SECONDS * 3) + 1
    while True:
        for index in range(settings.XERO_MAX_CONCURRENT):
            key = _key(tenant_id, f"running:{index}")
            if cache.add(key, 1, timeout=lease):
                try:
                    yield
                finally:
                    cache.delete(key)
                return
        clock.sleep(_POLL)


@contextmanager
def xero_call_slot(tenant_id: str) -> Iterator[None]:
    """Wait for this organisation's next free moment, then make one call inside."""
    _wait_out_pause(tenant_id)
    with _concurrency(tenant_id):
        start = _claim_start(tenant_id)
        clock.sleep(start - clock.now())
        yield
