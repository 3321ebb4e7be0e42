"""POST and GET /api/v1/waitlist/: closed by default, validated, audited, flat queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import ApiToken
from audit.models import AuditEvent
from tests.factories import DisciplineFactory, PatientFactory, UserFactory
from tests.waitlist.conftest import waiting
from waitlist.models import WaitlistEntry

pytestmark = pytest.mark.django_db
URL = "/api/v1/waitlist/"


def body(practice, who, **fields):
    return {
        "patient": who.pk,
        "clinician": practice.clinician.pk,
        "clinics": [practice.clinic.pk],
        "appointment_type": practice.consult.pk,
        "days": [0, 2, 4],
        "earliest": "08:30",
        "latest": "12:00",
        "urgency": "urgent",
        "expires": "2099-12-31",
    } | fields


def test_reception_adds_a_patient_to_the_waitlist(reception_api, practice, patient):
    response = reception_api.post(URL, body(practice, patient), format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    entry = WaitlistEntry.objects.get()
    assert data["id"] == entry.pk
    assert (data["patient"], data["clinician"], data["discipline"]) == (
        patient.pk,
        practice.clinician.pk,
        None,
    )
    assert (data["days"], data["earliest"], data["latest"]) == ([0, 2, 4], "08:30", "12:00")
    assert (data["urgency"], data["status"], data["offers"]) == ("urgent", "active", [])
    assert AuditEvent.objects.filter(
        action="create", object_type="waitlist.waitlistentry", patient_id=patient.pk
    ).exists()


def test_a_discipline_instead_of_a_clinician(reception_api, practice, patient):
    discipline = DisciplineFactory(name="Podiatry")

    response = reception_api.post(
        URL, body(practice, patient, clinician=None, discipline=discipline.pk), format="json"
    )

    assert response.status_code == 201
    assert response.json()["discipline"] == discipline.pk


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"discipline": "ANY"}, "clinician"),  # both
        ({"clinician": None}, "clinician"),  # neither
        ({"days": [7]}, "days"),
        ({"days": []}, "days"),
        ({"clinics": []}, "clinics"),
        ({"earliest": "12:00", "latest": "09:00"}, "latest"),
        ({"urgency": "yesterday"}, "urgency"),
        ({"expires": "2001-01-01"}, "expires"),
        ({"patient": 999999}, "patient"),  # no such patient
    ],
)
def test_bad_input_is_a_clear_400(reception_api, practice, patient, fields, field):
    if fields.get("discipline") == "ANY":
        fields = {"discipline": DisciplineFactory().pk}

    response = reception_api.post(URL, body(practice, patient) | fields, format="json")

    assert response.status_code == 400, response.json()
    assert field in str(response.json())
    assert not WaitlistEntry.objects.exists()


def test_the_list_shows_entries_with_their_offers_and_is_audited(reception_api, practice):
    entry = waiting(practice)

    response = reception_api.get(URL, {"status": "active"})

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [entry.pk]
    assert AuditEvent.objects.filter(
        action="read", object_type="waitlist.waitlistentry", patient_id=entry.patient_id
    ).exists()


def test_the_list_queries_stay_flat_as_entries_grow(admin_api, practice):
    admin_api.get(URL)  # warm the permission cache

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin_api.get(URL, {"page_size": 100}).status_code == 200
        return len(ctx)

    for _ in range(3):
        waiting(practice)
    few = count()
    for _ in range(12):
        waiting(practice)
    many = count()

    assert many == few
    assert many <= 5  # entries, count, clinics, offers, the audit insert


def test_closed_without_the_permission_or_the_scope(client, practice, patient):
    nobody = UserFactory()
    client.force_login(nobody)
    assert client.get(URL).status_code == 403

    reception = UserFactory(role="reception")
    _, read_only = ApiToken.issue(user=reception, name="t", scopes=["waitlist:read"])
    _, other = ApiToken.issue(user=reception, name="u", scopes=["patients:write"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {read_only}"}
    from rest_framework.test import APIClient

    api = APIClient()
    assert api.get(URL, **auth).status_code == 200
    assert api.post(URL, body(practice, patient), format="json", **auth).status_code == 403
    other_auth = {"HTTP_AUTHORIZATION": f"Bearer {other}"}
    assert api.get(URL, **other_auth).status_code == 403


def test_clinicians_and_reception_may_add_but_a_stranger_may_not(clinician_api, practice, patient):
    response = clinician_api.post(URL, body(practice, PatientFactory()), format="json")

    assert response.status_code == 201
