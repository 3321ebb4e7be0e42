"""A page that shows many patients' records is one audit event naming them all (issue 16),
and each of those patients' access history still shows it."""

import pytest
from django.test import Client

from audit.models import AuditEvent
from tests.conftest import MONDAY, sydney
from tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db


def test_a_calendar_day_is_one_event_naming_every_patient_shown(
    desk, practice, admin_browser: Client
):
    # Given three patients booked on one day
    patients = PatientFactory.create_batch(3)
    booked = [
        AppointmentFactory(
            patient=p,
            clinician=practice.clinician,
            clinic=practice.clinic,
            appointment_type=practice.consult,
            start=sydney(MONDAY, 9 + hour),
        )
        for hour, p in enumerate(patients)
    ]

    # When reception opens that day
    response = desk.get("/calendar/", {"clinic": practice.clinic.pk, "date": MONDAY.isoformat()})

    # Then one event records the page, listing every appointment and patient on it
    assert response.status_code == 200
    [event] = AuditEvent.objects.filter(detail__view="calendar")
    assert (event.action, event.object_type) == ("read", "appointments.appointment")
    assert sorted(event.object_ids) == sorted(str(a.pk) for a in booked)
    assert event.patient_ids == sorted(p.pk for p in patients)

    # And each patient's access history shows that calendar read
    for patient in patients:
        history = admin_browser.get(f"/audit/patients/{patient.pk}/")
        assert event.pk in [e.pk for e in history.context["page"].events]


def test_an_api_list_is_one_event_naming_every_patient_on_the_page(
    reception_api, practice, admin_api
):
    patients = PatientFactory.create_batch(3)
    for hour, p in enumerate(patients):
        AppointmentFactory(
            patient=p,
            clinician=practice.clinician,
            clinic=practice.clinic,
            appointment_type=practice.consult,
            start=sydney(MONDAY, 9 + hour),
        )

    response = reception_api.get("/api/v1/appointments/", {"clinician": practice.clinician.pk})

    assert len(response.json()["results"]) == 3
    [event] = AuditEvent.objects.exclude(action__in=["login", "login_failed"])
    assert (event.action, event.object_type) == ("read", "appointments.appointment")
    assert event.object_ids == [str(row["id"]) for row in response.json()["results"]]
    assert event.patient_ids == sorted(p.pk for p in patients)
    for patient in patients:
        found = admin_api.get("/api/v1/audit-events/", {"patient": patient.pk}).json()
        assert event.pk in [row["id"] for row in found["results"]]
