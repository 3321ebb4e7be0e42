"""The staff home page: today's appointments (mine or my clinic's), arrivals, my drafts."""

from datetime import datetime, time

import pytest
from django.utils import timezone

from appointments.models import Appointment
from audit.models import AuditEvent
from notes.services import note_sign
from tests.conftest import signed_in
from tests.factories import (
    AppointmentFactory,
    ClinicalNoteFactory,
    ClinicFactory,
    ClinicianFactory,
    PatientFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def today_at():
    clinic = ClinicFactory(name="Alpha clinic", timezone="Australia/Perth")
    day = timezone.localdate(timezone=clinic.tz)

    def at(hour: int, **fields) -> Appointment:
        start = datetime.combine(day, time(hour), tzinfo=clinic.tz)
        return AppointmentFactory(clinic=clinic, start=start, **fields)

    return clinic, at


def test_reception_sees_the_clinics_day_and_who_has_arrived(today_at):
    _, at = today_at
    arrived = at(9, patient=PatientFactory(given_name="Ada"), status="arrived")
    booked = at(10)
    at(11, status="cancelled", cancellation_reason="unwell")
    reception = UserFactory(role="reception")

    response = signed_in(reception).get("/")

    assert response.status_code == 200
    assert response.context["appointments"] == [arrived, booked]
    assert response.context["arrived"] == [arrived]
    [shown] = AuditEvent.objects.filter(actor=reception, detail__view="dashboard")
    assert set(shown.patient_ids) == {arrived.patient_id, booked.patient_id}


def test_a_clinician_sees_their_own_day_and_their_unsigned_notes(today_at):
    _, at = today_at
    user = UserFactory(role="clinician")
    me = ClinicianFactory(user=user)
    mine = at(9, clinician=me)
    at(10)  # a colleague's
    draft = ClinicalNoteFactory(author=user)
    note_sign(note=ClinicalNoteFactory(author=user), by=user)
    ClinicalNoteFactory()  # someone else's draft

    response = signed_in(user).get("/")

    assert response.context["appointments"] == [mine]
    assert response.context["drafts"] == [draft]


def test_an_unknown_clinic_falls_back_to_the_first(today_at):
    clinic, at = today_at
    at(9)

    response = signed_in(UserFactory(role="reception")).get("/", {"clinic": 999_999})

    assert response.status_code == 200
    assert response.context["clinic"] == clinic
