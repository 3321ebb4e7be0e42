"""The API throttles count with one integer per window (issue 16), and still refuse a burst
that straddles a window's edge, as DRF's history list did."""

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from nexus.api.throttling import UserThrottle
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class FiveAMinute(UserThrottle):
    rate = "5/min"

    def __init__(self, clock: list[float]) -> None:
        super().__init__()
        self.clock = clock

    def timer(self) -> float:
        return self.clock[0]


def allowed(throttle: FiveAMinute, request) -> bool:
    return throttle.allow_request(request, None)


def test_a_burst_across_a_window_edge_is_refused_and_refusals_use_no_budget():
    cache.clear()
    request = RequestFactory().get("/api/v1/patients/")
    request.user = UserFactory()
    clock = [600.0 * 1000 + 58]  # two seconds before a window ends
    throttle = FiveAMinute(clock)

    assert [allowed(throttle, request) for _ in range(3)] == [True, True, True]
    clock[0] += 4  # two seconds into the next window: the three still count
    assert [allowed(throttle, request) for _ in range(3)] == [True, True, False]
    assert throttle.wait() >= 1
    # What is stored is a count per window, not a list of times.
    key = throttle.get_cache_key(request, None)
    assert cache.get(f"{key}:{int(clock[0] // 60)}") == 2  # the refusal gave its count back
    clock[0] += 60  # a full window later the earlier burst no longer counts
    assert [allowed(throttle, request) for _ in range(3)] == [True, True, True]
