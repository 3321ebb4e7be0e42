"""POST /api/v1/appointments/{id}/undo/: the staff panel's undo, with the same rules and
audit, for integrators (issue 10.3)."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from appointments.models import Appointment
from audit.models import AuditEvent
from tests.conftest import MONDAY, sydney
from tests.factories import AppointmentFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/appointments/"


def test_undo_takes_an_arrival_back_and_the_trail_says_what_was_undone(
    reception_api, at_ten, now_is
):
    now_is(sydney(MONDAY, 10, 5))
    assert reception_api.post(f"{URL}{at_ten.pk}/confirm/").status_code == 200
    assert reception_api.post(f"{URL}{at_ten.pk}/arrive/").status_code == 200

    response = reception_api.post(f"{URL}{at_ten.pk}/undo/")

    assert response.status_code == 200
    assert response.json()["status"] == "confirmed"
    at_ten.refresh_from_db()
    assert at_ten.status == "confirmed"
    event = AuditEvent.objects.filter(detail__view="undo").get()
    assert (event.action, event.outcome, event.patient_id) == (
        "update",
        "success",
        at_ten.patient_id,
    )
    assert event.detail["undone"] == "arrived" and event.detail["to"] == "confirmed"


def test_nothing_to_undo_is_a_409_and_changes_nothing(reception_api, at_ten, now_is):
    now_is(sydney(MONDAY, 10, 5))

    response = reception_api.post(f"{URL}{at_ten.pk}/undo/")

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert Appointment.objects.get().status == "booked"
    refused = AuditEvent.objects.filter(detail__view="undo").get()
    assert refused.outcome == "failure"


def test_undo_is_only_on_the_appointments_day(reception_api, at_ten, now_is):
    now_is(sydney(MONDAY, 10, 30))
    reception_api.post(f"{URL}{at_ten.pk}/no-show/")
    now_is(sydney(MONDAY + timedelta(days=1), 9))

    response = reception_api.post(f"{URL}{at_ten.pk}/undo/")

    assert response.status_code == 409
    assert Appointment.objects.get().status == "no_show"


def test_a_no_show_stays_when_its_time_was_booked_since(reception_api, practice, at_ten, now_is):
    now_is(sydney(MONDAY, 10, 20))
    reception_api.post(f"{URL}{at_ten.pk}/no-show/")
    AppointmentFactory(
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )

    response = reception_api.post(f"{URL}{at_ten.pk}/undo/")

    assert response.status_code == 409
    assert response.json()["code"] == "slot_unavailable"
    at_ten.refresh_from_db()
    assert at_ten.status == "no_show"


def test_undo_needs_the_change_permission_and_a_write_scope(at_ten, reception_user, now_is):
    now_is(sydney(MONDAY, 10, 5))
    Appointment.objects.filter(pk=at_ten.pk).update(status="arrived", status_before_visit="booked")
    nobody = APIClient()
    nobody.force_authenticate(UserFactory())  # signed in, no role
    token = call_token(reception_user.email, "appointments:read")
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert APIClient().post(f"{URL}{at_ten.pk}/undo/").status_code in (401, 403)
    assert nobody.post(f"{URL}{at_ten.pk}/undo/").status_code in (403, 404)
    assert reader.post(f"{URL}{at_ten.pk}/undo/").status_code == 403
    assert Appointment.objects.get().status == "arrived"


def test_undo_of_an_unknown_appointment_is_404(reception_api, db):
    assert reception_api.post(f"{URL}999999/undo/").status_code == 404


def test_the_schema_documents_undo(admin_api):
    schema = admin_api.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/appointments/{id}/undo/"]["post"]
    assert "200" in operation["responses"]
    assert "no-show" in operation["description"]


def call_token(email: str, *scopes: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("issue_api_token", email, "--scopes", *scopes, stdout=out)
    return out.getvalue().strip()
