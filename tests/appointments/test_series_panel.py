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
    assert '<li class="series-blocked"><time datetime="2032-03-15T10:00:00+11:00">' in page
    assert "Mon 15 Mar 2032, 10:00 AM</time>: already booked" in page
    assert 'name="skip_conflicts"' in page
    assert Appointment.objects.filter(patient=patient).count() == 0

    skipped = book_weekly(desk, practice, patient, skip_conflicts="on")

    assert skipped.status_code == 302
    assert Appointment.objects.filter(patient=patient).count() == 5


def test_a_repeat_without_a_count_says_so(desk, practice, patient):
    response = book_weekly(desk, practice, patient, repeat_count="")

    assert "Say how many times." in response.content.decode()
    assert not Appointment.objects.exists()


@pytest.fixture
def course(desk, practice, patient):
    """Ada's weekly course of six at 10:00 from MONDAY, booked from the panel."""
    book_weekly(desk, practice, patient)
    return list(AppointmentSeries.objects.get().appointments.order_by("start"))


def test_the_panel_says_an_appointment_is_part_of_a_series(desk, course):
    page = desk.get(f"/calendar/appointments/{course[2].pk}/").content.decode()

    assert "Repeat booking: every week, 6 times, from Mon 1 Mar 2032." in page
    assert "3 more booked after this one." in page
    assert "This and the following ones in the series" in page


def test_cancelling_this_and_following_keeps_the_earlier_ones(desk, course):
    response = desk.post(
        f"/calendar/appointments/{course[3].pk}/cancel/",
        {"reason": "moving interstate", "scope": "following"},
    )

    assert response.status_code == 302
    statuses = [a.status for a in Appointment.objects.order_by("start")]
    assert statuses == ["booked"] * 3 + ["cancelled"] * 3
    assert {a.cancellation_reason for a in Appointment.objects.filter(status="cancelled")} == {
        "moving interstate"
    }


def test_cancelling_this_one_only_leaves_the_rest(desk, course):
    desk.post(f"/calendar/appointments/{course[3].pk}/cancel/", {"reason": "away", "scope": "this"})

    assert [a.status for a in Appointment.objects.order_by("start")].count("cancelled") == 1


def test_moving_this_and_following_an_hour_later_keeps_the_weekly_rhythm(desk, practice, course):
    response = desk.post(
        f"/calendar/appointments/{course[2].pk}/move/",
        {
            "clinician": practice.clinician.pk,
            "date": (MONDAY + timedelta(weeks=2, days=1)).isoformat(),
            "time": "11:00",
            "scope": "following",
        },
    )

    assert response.status_code == 302, response.content.decode()
    starts = [a.start for a in Appointment.objects.order_by("start")]
    # The first two stay; from the third on, Tuesdays at 11:00, across the clocks going back.
    assert starts == [
        sydney(MONDAY, 10),
        sydney(MONDAY + timedelta(weeks=1), 10),
        *[sydney(MONDAY + timedelta(weeks=w, days=1), 11) for w in range(2, 6)],
    ]


def test_a_refused_move_of_the_following_ones_moves_none(desk, practice, course):
    AppointmentFactory(
        patient=PatientFactory(),
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY + timedelta(weeks=4), 14),
    )

    response = desk.post(
        f"/calendar/appointments/{course[2].pk}/move/",
        {
            "clinician": practice.clinician.pk,
            "date": (MONDAY + timedelta(weeks=2)).isoformat(),
            "time": "14:00",
            "scope": "following",
        },
    )

    assert response.status_code == 200
    assert "Mon 29 Mar: " in response.content.decode()
    assert "Nothing was moved." in response.content.decode()
    assert [a.start for a in course] == [
        a.start for a in Appointment.objects.filter(series__isnull=False).order_by("start")
    ]


def test_the_chart_lists_the_series(desk, course, patient):
    Appointment.objects.filter(pk=course[5].pk).update(status="cancelled")

    page = desk.get(f"/patients/{patient.pk}/").content.decode()

    assert "Repeat bookings" in page
    assert "every week, 6 times, from" in page
    assert "5 booked, 1 cancelled" in page
    assert 'title="Part of a repeat booking">Repeat</span>' in page
