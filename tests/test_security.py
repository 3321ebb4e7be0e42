import re
import time

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client

from audit.models import AuditEvent
from nexus.api.throttling import SearchRateThrottle
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


@pytest.fixture
def staff(db):
    # A superuser: these tests use the admin site, which is for superusers only.
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()  # throttle and lockout counters live in the cache


@pytest.mark.parametrize("path", ["/admin/login/", "/api/v1/patients/", "/healthz/"])
def test_security_headers_on_every_kind_of_response(client, path):
    response = client.get(path)

    csp = response["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert "no-store" in response["Cache-Control"]


def test_api_docs_need_no_inline_script(client, admin_user):
    client.force_login(admin_user)

    response = client.get("/api/docs/")

    scripts = re.findall(r"<script[^>]*>", response.content.decode())
    assert scripts
    assert all(re.search(r'src="/', tag) for tag in scripts), scripts


def test_patient_search_is_rate_limited_with_retry_after(reception_api, monkeypatch):
    monkeypatch.setattr(SearchRateThrottle, "rate", "3/min", raising=False)
    PatientFactory()

    codes = [reception_api.get("/api/v1/patients/", {"search": "a"}).status_code for _ in range(4)]
    unthrottled = reception_api.get("/api/v1/patients/")
    limited = reception_api.get("/api/v1/patients/", {"search": "a"})

    assert codes == [200, 200, 200, 429]
    assert int(limited["Retry-After"]) > 0
    assert unthrottled.status_code == 200  # browsing the list is not a search


def login(client: Client, email: str, password: str):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_five_bad_passwords_lock_the_account_even_against_the_right_one(client):
    user = UserFactory(is_staff=True)

    for _ in range(4):
        assert login(client, user.email, "wrong password").status_code == 200  # form error
    fifth = login(client, user.email, "wrong password")
    sixth = login(client, user.email, PASSWORD)

    assert (fifth.status_code, sixth.status_code) == (429, 429)
    assert "_auth_user_id" not in client.session
    # Five wrong passwords, and the blocked attempt with the right one.
    assert AuditEvent.objects.filter(action="login_failed").count() == 6
    assert AccessAttempt.objects.get().username == user.email  # locked per user + IP


def test_a_sign_in_cycles_the_session_key_and_is_audited(client):
    user = UserFactory(is_staff=True)
    client.get("/accounts/login/")
    client.session.save()
    before = client.session.session_key

    response = login(client, user.email, PASSWORD)

    assert response.status_code == 302
    assert client.session.session_key != before
    event = AuditEvent.objects.get(action="login")
    assert event.object_id == str(user.pk)


def _age_session(client: Client, **fields: int) -> None:
    session = client.session
    for name, seconds_ago in fields.items():
        session[name] = int(time.time()) - seconds_ago
    session.save()


def test_an_idle_session_is_signed_out_and_deleted(client, staff, settings):
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200
    key = client.session.session_key

    _age_session(client, nexus_seen_at=settings.NEXUS_SESSION_IDLE_SECONDS + 1)
    response = client.get("/admin/")

    assert response.status_code == 302
    assert not Session.objects.filter(session_key=key).exists()


def test_an_active_session_still_ends_at_its_absolute_lifetime(client, staff, settings):
    client.force_login(staff)
    client.get("/admin/")

    _age_session(client, nexus_seen_at=0, nexus_started_at=settings.SESSION_COOKIE_AGE + 1)

    assert client.get("/admin/").status_code == 302


def test_a_session_in_use_stays_signed_in(client, staff, settings):
    client.force_login(staff)
    client.get("/admin/")

    _age_session(client, nexus_seen_at=settings.NEXUS_SESSION_IDLE_SECONDS - 60)

    assert client.get("/admin/").status_code == 200


def test_deactivating_a_user_ends_their_sessions(client, staff):
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200

    staff.is_active = False
    staff.save()

    assert client.get("/admin/").status_code == 302
    assert client.get("/api/v1/patients/").status_code == 401


def test_a_cookie_replayed_after_logout_is_worthless(staff):
    client = Client()
    client.force_login(staff)
    cookie = client.cookies["sessionid"].value
    client.post("/admin/logout/")

    replay = Client()
    replay.cookies["sessionid"] = cookie

    assert replay.get("/admin/").status_code == 302
