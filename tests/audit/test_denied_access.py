"""Denied and failed accesses are audited with outcome != success; failed sign-ins name the
account they were for, never what was typed; a lockout is an event (issue 12 item 5)."""

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiToken
from audit.models import AuditEvent
from tests.appointments.test_api import URL, body
from tests.conftest import MONDAY, sydney
from tests.factories import ClinicalNoteFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def refusals():
    return list(AuditEvent.objects.exclude(outcome="success").order_by("id"))


def test_another_clinicians_draft_leaves_a_denied_event_naming_the_patient(clinician_api):
    draft = ClinicalNoteFactory(author=UserFactory(role="clinician"))

    assert clinician_api.get(f"/api/v1/notes/{draft.pk}/").status_code == 404

    [event] = refusals()
    assert (event.action, event.outcome) == ("read", "denied")
    assert (event.object_type, event.object_id) == ("notes.clinicalnote", str(draft.pk))
    assert event.patient_id == draft.patient_id
    assert event.detail == {"status": 404, "route": "clinicalnote-detail"}


def test_a_missing_patient_is_a_denied_event_without_a_patient(reception_api, reception_user):
    assert reception_api.get("/api/v1/patients/987654/").status_code == 404

    [event] = refusals()
    assert (event.object_type, event.object_id, event.patient_id) == (
        "patients.patient",
        "987654",
        None,
    )
    assert event.actor == reception_user


def test_a_scope_refusal_names_the_token(reception_user):
    token, raw = ApiToken.issue(user=reception_user, name="reader", scopes=["patients:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    patient = PatientFactory()

    response = client.patch(f"/api/v1/patients/{patient.pk}/", {"notes": "x"}, format="json")

    assert response.status_code == 403
    [event] = refusals()
    assert (event.action, event.outcome, event.token_id) == ("update", "denied", token.pk)
    assert event.patient_id == patient.pk


def test_a_refused_change_leaves_exactly_one_failure_event(reception_api, practice, patient):
    reception_api.post(URL, body(practice, patient), format="json")

    clash = reception_api.post(
        URL,
        body(practice, PatientFactory(), start=sydney(MONDAY, 10, 15).isoformat()),
        format="json",
    )

    assert clash.status_code == 409
    [event] = refusals()
    assert (event.action, event.outcome) == ("create", "failure")
    assert event.detail["status"] == 409


def test_a_staff_page_refusal_is_recorded(reception_user):
    client = Client()
    client.force_login(reception_user)

    assert client.get("/patients/987654/").status_code == 404

    [event] = refusals()
    assert (event.object_type, event.object_id, event.outcome) == (
        "patients.patient",
        "987654",
        "denied",
    )


def test_anonymous_refusals_fill_nothing(client):
    client.get("/api/v1/patients/1/")
    client.get("/patients/1/")

    assert refusals() == []


def test_a_failed_sign_in_names_the_account_but_not_what_was_typed():
    user = UserFactory(role="reception", email="rita@nexus.test")

    Client().post("/accounts/login/", {"login": "Rita@nexus.test", "password": "typed-secret-1"})
    Client().post("/accounts/login/", {"login": "nobody@nexus.test", "password": "typed-secret-2"})

    known, unknown = AuditEvent.objects.filter(action="login_failed").order_by("id")
    assert (known.object_type, known.object_id, known.outcome) == (
        "accounts.user",
        str(user.pk),
        "failure",
    )
    assert known.detail["account"] == "known"
    assert (unknown.object_id, unknown.detail["account"]) == ("", "unknown")
    stored = json.dumps(list(AuditEvent.objects.values()), default=str)
    for typed in ["typed-secret", "nobody@nexus.test", "rita@nexus.test"]:
        assert typed not in stored.lower()


def test_a_lockout_is_an_event(settings):
    user = UserFactory(role="reception", email="rita@nexus.test")
    client = Client()

    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"login": user.email, "password": "wrong-password"})

    [lockout] = AuditEvent.objects.filter(action="lockout")
    assert (lockout.object_id, lockout.outcome) == (str(user.pk), "denied")


@pytest.mark.parametrize(
    "path", ["/api/v1/appointments/99999999999999999999/", "/notes/99999999999999999999/"]
)
def test_an_id_out_of_any_range_is_still_a_plain_refusal(reception_user, path):
    client = Client()
    client.force_login(reception_user)

    assert client.get(path).status_code in (403, 404)
    assert refusals()[0].object_id == "99999999999999999999"
