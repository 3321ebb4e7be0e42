"""Odd input gets a clear 4xx, never a 500: each case here was a traceback once
(issue 12 item 4). The fuzz test in tests/test_fuzz.py looks for the ones nobody listed."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import MONDAY, sydney
from tests.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    ClinicFactory,
    ClinicianFactory,
    PatientFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def listed(db):
    clinic = ClinicFactory(name="Parramatta")
    clinician = ClinicianFactory(clinics=[clinic], listed_publicly=True)
    consult = AppointmentTypeFactory(bookable_online=True)
    return clinician, clinic, consult


def _details(client: Client, clinician_id: int, **query: str):
    return client.get(f"/book/{clinician_id}/details/", query)


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "abc"},
        {"clinic": "abc"},
        {"type": "1e3"},
        {"start": "9999-12-31T23:59:59-23:59"},
        {"start": "9999-12-31T23:59:59+23:59"},
        {"start": "2032-02-30T10:00:00+11:00"},
        {"start": "2032-03-01T10:60:00+11:00"},
    ],
)
def test_the_public_details_page_refuses_odd_slots_with_a_404(client, listed, bad):
    clinician, clinic, consult = listed
    start = (timezone.now() + timedelta(days=2)).isoformat()
    query = {"type": str(consult.pk), "clinic": str(clinic.pk), "start": start} | bad

    response = _details(client, clinician.pk, **query)
    posted = client.post(f"/book/{clinician.pk}/details/", query)

    assert response.status_code == 404
    assert posted.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/patients/",
        "/api/v1/clinics/",
        "/api/v1/clinicians/",
        "/api/v1/disciplines/",
        "/api/v1/referrers/",
        "/api/v1/coordinators/",
        "/api/v1/appointment-types/",
        "/api/v1/notes/",
    ],
)
@pytest.mark.parametrize("page", ["99999999999999999999", "0", "-1", "abc", "1.5"])
def test_an_impossible_page_number_is_a_400_in_the_error_shape(admin_api, path, page):
    response = admin_api.get(path, {"page": page})

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert "page" in response.json()["detail"].lower()


@pytest.mark.parametrize("path", ["/api/v1/patients/", "/api/v1/appointments/"])
def test_a_page_size_above_100_is_clamped_and_below_1_refused(admin_api, path):
    PatientFactory.create_batch(3)

    for huge in ("101", "100000", "99999999999999999999"):
        assert admin_api.get(path, {"page_size": huge}).status_code == 200
    for bad in ("0", "-5", "x", "2.5"):
        refused = admin_api.get(path, {"page_size": bad})
        assert refused.status_code == 400
        assert refused.json()["code"] == "invalid"


@pytest.mark.parametrize(
    "start",
    [
        "2032-03-01T10:60:00+11:00",
        "2032-02-30T10:00:00+11:00",
        "2032-03-01T25:00:00+11:00",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
    ],
)
def test_impossible_datetimes_in_appointment_writes_are_400(admin_api, practice, start):
    patient = PatientFactory()
    body = {
        "patient": patient.pk,
        "clinician": practice.clinician.pk,
        "clinic": practice.clinic.pk,
        "appointment_type": practice.consult.pk,
        "start": start,
    }

    response = admin_api.post("/api/v1/appointments/", body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"]["start"]


@pytest.mark.parametrize(
    "start", ["2032-03-01T10:60:00+11:00", "2032-02-30T10:00:00+11:00", "2032-03-01T25:00:00+11:00"]
)
def test_impossible_datetimes_in_appointment_filters_are_400(admin_api, start):
    filtered = admin_api.get("/api/v1/appointments/", {"start_after": start})

    assert filtered.status_code == 400, filtered.content
    assert filtered.json()["code"] == "invalid"


def test_filter_bounds_past_the_supported_years_select_everything_on_that_side(admin_api, practice):
    AppointmentFactory(
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )

    before = admin_api.get("/api/v1/appointments/", {"start_before": "9999-12-31T23:59:59-23:59"})
    after = admin_api.get("/api/v1/appointments/", {"start_after": "0001-01-01T00:00:00+23:59"})
    past = admin_api.get("/api/v1/appointments/", {"start_before": "0001-01-01T00:00:00+23:59"})

    assert len(before.json()["results"]) == 1
    assert len(after.json()["results"]) == 1
    assert past.status_code == 200 and past.json()["results"] == []


@pytest.mark.parametrize(
    "path",
    ["/patients/", "/patients/pick/", "/book/", "/audit/", "/calendar/", "/book/1/details/"],
)
def test_nul_bytes_in_search_are_a_400(admin_user, path):
    client = Client()
    client.force_login(admin_user)

    response = client.get(path, {"q": "Ada\x00"})

    assert response.status_code == 400


def test_nul_bytes_in_api_search_are_a_400_in_the_error_shape(admin_api):
    response = admin_api.get("/api/v1/patients/", {"search": "Ada\x00"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("path", ["/accounts/google/login/", "/accounts/google/login/callback/"])
def test_google_sign_in_without_google_configured_is_a_404(client, settings, method, path):
    settings.SOCIALACCOUNT_PROVIDERS = {
        **settings.SOCIALACCOUNT_PROVIDERS,
        "google": {**settings.SOCIALACCOUNT_PROVIDERS["google"], "APPS": []},
    }

    response = getattr(client, method)(path)

    assert response.status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        {"start": "9999-12-31T23:59:59-23:59"},
        {"start": "2032-02-30T10:00"},
        {"clinic": "1", "date": "9999-12-31"},
        {"date": "0001-01-01", "view": "week"},
    ],
)
def test_the_staff_calendar_and_booking_panel_survive_odd_dates(admin_user, practice, query):
    client = Client()
    client.force_login(admin_user)

    assert client.get("/calendar/", query).status_code < 500
    assert client.get("/calendar/book/", query).status_code < 500
