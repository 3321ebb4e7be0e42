"""A bearer token's request counts its user's rate limits in the cache call that reads the
token (issue 16): one Redis round trip instead of one for the token and one per throttle.
The limits stay the same: each request counts once, and a refused token uses no budget."""

import pytest
from django.core.cache import cache

from accounts.models import ApiToken
from nexus.api import throttling
from nexus.api.throttling import SearchRateThrottle, UserThrottle
from tests.accounts.test_tokens import bearer, issue
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()


@pytest.fixture
def separate_counts(monkeypatch):
    """How many times a throttle counted on its own, not with the token."""
    calls: list[str] = []
    counted = throttling.count_in_window

    def count(cache, key, previous_key, *, timeout):
        calls.append(key)
        return counted(cache, key, previous_key, timeout=timeout)

    monkeypatch.setattr(throttling, "count_in_window", count)
    return calls


def test_a_known_tokens_throttles_count_with_the_token_read(reception_user, separate_counts):
    client = bearer(issue(reception_user.email))
    patient = PatientFactory()

    assert client.get(f"/api/v1/patients/{patient.pk}/").status_code == 200
    assert len(separate_counts) == 1  # the token's owner was not known yet
    assert client.get(f"/api/v1/patients/{patient.pk}/").status_code == 200
    assert client.get("/api/v1/patients/", {"search": "a"}).status_code == 200

    assert len(separate_counts) == 1


def test_each_request_counts_once_against_the_users_limit(reception_user, monkeypatch):
    monkeypatch.setattr(UserThrottle, "rate", "3/min", raising=False)
    client = bearer(issue(reception_user.email))

    codes = [client.get("/api/v1/patients/").status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]


def test_the_search_limit_still_counts_only_searches(reception_user, monkeypatch):
    monkeypatch.setattr(SearchRateThrottle, "rate", "2/min", raising=False)
    client = bearer(issue(reception_user.email))

    searches = [client.get("/api/v1/patients/", {"search": "a"}).status_code for _ in range(3)]
    browsing = client.get("/api/v1/patients/")

    assert searches == [200, 200, 429]
    assert browsing.status_code == 200


def test_a_revoked_token_gives_back_what_it_counted(reception_user, monkeypatch):
    monkeypatch.setattr(UserThrottle, "rate", "3/min", raising=False)
    revoked = bearer(issue(reception_user.email))
    assert revoked.get("/api/v1/patients/").status_code == 200
    ApiToken.objects.get().revoke()

    refused = [revoked.get("/api/v1/patients/").status_code for _ in range(3)]
    renewed = bearer(issue(reception_user.email))
    codes = [renewed.get("/api/v1/patients/").status_code for _ in range(3)]

    assert refused == [401, 401, 401]
    assert codes == [200, 200, 429]  # the revoked token's refusals used none of the three
