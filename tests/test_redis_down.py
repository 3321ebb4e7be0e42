"""Redis down degrades speed, not service (issue 12 item 8, security.md R42).

The cache points at a closed port on 127.0.0.1: sign-in, staff pages, the API and online
booking still work, sessions and tokens come from the database, rate limits fail open
with a logged warning, and /readyz/ reports the cache as unavailable.
"""

import socket
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from appointments.models import Appointment
from nexus import cache as nexus_cache
from tests.booking.conftest import listed  # noqa: F401
from tests.booking.test_online_booking import _post, first_slot
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def redis_down(settings, monkeypatch):
    monkeypatch.setattr(nexus_cache, "_down_until", {})
    settings.CACHES = {
        "default": {
            "BACKEND": "nexus.cache.FailOpenRedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        }
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"


def test_staff_sign_in_with_a_password_works(caplog):
    user = UserFactory(role="reception", email="rita@nexus.test")
    client = Client()

    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})

    assert response.status_code == 302
    assert client.get("/patients/").status_code == 200
    assert any("cache.unavailable" in r.getMessage() for r in caplog.records)


def test_a_wrong_password_is_refused_not_an_error():
    user = UserFactory(role="reception")

    response = Client().post("/accounts/login/", {"login": user.email, "password": "wrong-one"})

    assert response.status_code == 200  # The form again, with its message.


def test_staff_pages_work_from_the_database_session(reception_user):
    patient = PatientFactory()
    client = Client()
    client.force_login(reception_user)

    assert client.get("/").status_code == 200
    assert client.get("/patients/", {"q": patient.family_name}).status_code == 200
    assert client.get(f"/patients/{patient.pk}/").status_code == 200


def test_the_api_works_with_a_bearer_token(reception_user):
    out = StringIO()
    call_command("issue_api_token", reception_user.email, stdout=out)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {out.getvalue().strip()}")
    patient = PatientFactory()

    for _ in range(3):  # The token is looked up in the database each time.
        assert client.get(f"/api/v1/patients/{patient.pk}/").status_code == 200
    assert client.get("/api/v1/patients/", {"search": patient.family_name}).status_code == 200


def test_online_booking_works_and_its_rate_limit_fails_open(listed):  # noqa: F811
    clinician, _, _ = listed
    client = Client()
    url = first_slot(client, clinician)

    response = _post(client, url)

    assert response.status_code == 302
    assert Appointment.objects.count() == 1
    # The per-connection limit (10 a minute) cannot count without Redis: it lets people book.
    statuses = {_post(client, url, consent="").status_code for _ in range(12)}
    assert 429 not in statuses


def test_readyz_reports_the_cache_but_stays_in_rotation(client):
    response = client.get("/readyz/")

    assert response.json()["cache"] == "unavailable"
    assert response.json()["status"] == "degraded"
    assert response.status_code == 200
