"""Repeat bookings from the staff booking panel: choose "Every week", 6 times; a time that
cannot be booked is listed with why, and "skip" books the rest."""

from datetime import timedelta

import pytest

from appointments.models import Appointment, AppointmentSeries
from audit.models import AuditEvent
from tests.conftest import MONDAY, sydney
from tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db


def book_weekly(desk, practice, patient, **extra):
    return desk.post(
        "/calendar/book/",
        {
            "patient": patient.pk,
            "clinician": practice.clinician.pk,
            "clinic": practice.clinic.pk,
            "appointment_type": practice.consult.pk,
            "date": MONDAY.isoformat(),
            "time": "10:00",
            "repeat_weeks": "1",
            "repeat_count": "6",
            **extra,
        },
    )


def test_the_panel_offers_repeat_choices(desk, practice):
    page = desk.get("/calendar/book/", {"clinic": practice.clinic.pk}).content.decode()

    assert '<option value="" selected>Does not repeat</option>' in page
    assert '<option value="2">Every 2 weeks</option>' in page
    assert 'name="repeat_count"' in page


def test_a_free_weekly_series_is_booked_in_one_go(desk, practice, patient):
    response = book_weekly(desk, practice, patient)

    assert response.status_code == 302, response.content.decode()
    series = AppointmentSeries.objects.get()
    assert [a.start for a in series.appointments.order_by("start")] == [
        sydney(MONDAY + timedelta(weeks=i), 10) for i in range(6)
    ]
    assert AuditEvent.objects.filter(
        object_type="appointments.appointmentseries", patient_id=patient.pk
    ).exists()


def test_a_clash_lists_every_time_and_skip_books_the_other_five(desk, practice, patient):
    AppointmentFactory(
        patient=PatientFactory(),
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY + timedelta(weeks=2), 10),
    )

    refused = book_weekly(desk, practice, patient)
    page = refused.content.decode()

    assert refused.status_code == 200
    assert "1 of these 6 times cannot be booked" in page
    assert '<li class="series-blocked"><time datetime="2027-03-15T10:00:00+11:00">' in page
    assert "Mon 15 Mar 2027, 10:00 AM</time>: already booked" in page
    assert 'name="skip_conflicts"' in page
    assert Appointment.objects.filter(patient=patient).count() == 0

    skipped = book_weekly(desk, practice, patient, skip_conflicts="on")

    assert skipped.status_code == 302
    assert Appointment.objects.filter(patient=patient).count() == 5


def test_a_repeat_without_a_count_says_so(desk, practice, patient):
    response = book_weekly(desk, practice, patient, repeat_count="")

    assert "Say how many times." in response.content.decode()
    assert not Appointment.objects.exists()
