"""The calendar and the booking panel's start times are computed once and cached (issue 16):
every change to a clinician's diary shows on the very next request, and a hold that lapses
frees its time without any write. What is shown is still read and audited per request."""

from datetime import time, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from appointments.models import Appointment, SlotHold
from appointments.selectors import calendar_rows
from appointments.services import appointment_book, appointment_cancel, appointment_reschedule
from audit.models import AuditEvent
from tests.conftest import MONDAY, Practice, sydney
from tests.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    ClinicianFactory,
    PatientFactory,
    TimeOffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NINE, TEN = sydney(MONDAY, 9), sydney(MONDAY, 10)


def free_times(client: Client, practice: Practice) -> set[str]:
    """The free 15-minute rows of the practice clinician's Monday, as data-start values."""
    response = client.get(
        "/calendar/",
        {"clinic": practice.clinic.pk, "date": MONDAY.isoformat(), "view": "day"},
    )
    assert response.status_code == 200
    return {
        slot.start.isoformat()
        for column in response.context["page"].columns
        for slot in column.free
    }


def panel_starts(client: Client, practice: Practice) -> list[str]:
    response = client.get(
        "/calendar/book/",
        {
            "clinic": practice.clinic.pk,
            "clinician": practice.clinician.pk,
            "appointment_type": practice.consult.pk,
            "date": MONDAY.isoformat(),
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    return [start.strftime("%H:%M") for start in response.context["starts"]]


def book(practice: Practice, patient, start):
    return appointment_book(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=start,
    )


def test_a_booking_a_move_and_a_cancellation_show_on_the_next_request(desk, practice, patient):
    # Given a calendar and a booking panel already seen (and so cached)
    assert NINE.isoformat() in free_times(desk, practice)
    assert "09:00" in panel_starts(desk, practice)

    # When nine o'clock is booked
    appointment = book(practice, patient, NINE)
    # Then the next requests no longer offer it
    assert NINE.isoformat() not in free_times(desk, practice)
    assert "09:00" not in panel_starts(desk, practice)

    # When it is moved to ten
    appointment_reschedule(appointment=appointment, start=TEN)
    # Then nine is free again and ten is not
    shown = free_times(desk, practice)
    assert NINE.isoformat() in shown and TEN.isoformat() not in shown
    assert "09:00" in panel_starts(desk, practice)
    assert "10:00" not in panel_starts(desk, practice)

    # When it is cancelled
    appointment.refresh_from_db()
    appointment_cancel(appointment=appointment, reason="Unwell", notify=False)
    # Then ten is free again
    assert TEN.isoformat() in free_times(desk, practice)
    assert "10:00" in panel_starts(desk, practice)


def test_time_off_and_working_hours_show_on_the_next_request(desk, practice):
    assert NINE.isoformat() in free_times(desk, practice)

    TimeOffFactory(clinician=practice.clinician, clinic=None, start=NINE, end=TEN)
    shown = free_times(desk, practice)
    assert NINE.isoformat() not in shown and TEN.isoformat() in shown
    assert "09:00" not in panel_starts(desk, practice)

    hours = practice.clinician.working_hours.get(clinic=practice.clinic, weekday=0)
    hours.end_time = time(12, 0)
    hours.save()
    assert sydney(MONDAY, 13).isoformat() not in free_times(desk, practice)
    assert "13:00" not in panel_starts(desk, practice)


def test_a_longer_type_changes_the_panels_start_times_at_once(desk, practice):
    assert panel_starts(desk, practice)[-1] == "16:30"

    practice.consult.duration_minutes = 60
    practice.consult.save()

    assert panel_starts(desk, practice)[-1] == "16:00"


def test_a_lapsed_hold_frees_its_time_without_any_write(desk, practice, monkeypatch):
    now = timezone.now()
    SlotHold.objects.create(
        key="k" * 40,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=NINE,
        end=NINE + timedelta(minutes=30),
        expires_at=now + timedelta(minutes=5),
    )
    assert NINE.isoformat() not in free_times(desk, practice)
    assert "09:00" not in panel_starts(desk, practice)

    # Ten minutes on, nobody has written anything; the hold has lapsed.
    later = now + timedelta(minutes=10)
    monkeypatch.setattr("appointments.holds._now", lambda: later)
    monkeypatch.setattr("appointments.calendar_cache.time.time", lambda: later.timestamp())

    assert NINE.isoformat() in free_times(desk, practice)
    assert "09:00" in panel_starts(desk, practice)


def test_every_view_of_a_cached_calendar_is_audited_with_its_patients(desk, practice, patient):
    # Given two appointments (a page of one names its patient in `patient`)
    book(practice, PatientFactory(), TEN)
    appointment = book(practice, patient, NINE)
    before = AuditEvent.objects.filter(detail__view="calendar").count()

    free_times(desk, practice)
    free_times(desk, practice)  # the grid comes from the cache this time

    views = AuditEvent.objects.filter(detail__view="calendar").order_by("-pk")[:2]
    assert AuditEvent.objects.filter(detail__view="calendar").count() == before + 2
    assert all(str(appointment.pk) in v.object_ids and patient.pk in v.patient_ids for v in views)


def test_a_new_appointment_type_shows_in_the_legend_at_once(desk, practice):
    url = f"/calendar/?clinic={practice.clinic.pk}&date={MONDAY}&view=day"
    assert "Physiotherapy review" not in desk.get(url).content.decode()

    AppointmentTypeFactory(name="Physiotherapy review")

    assert "Physiotherapy review" in desk.get(url).content.decode()


def blocks(client: Client, practice: Practice, **query) -> list[tuple[int, str]]:
    """The appointment blocks of the practice clinician's Monday: (id, status)."""
    response = client.get(
        "/calendar/",
        {"clinic": practice.clinic.pk, "date": MONDAY.isoformat(), "view": "day", **query},
    )
    assert response.status_code == 200
    return [
        (p.appointment.pk, p.appointment.status)
        for column in response.context["page"].columns
        for p in column.appointments
    ]


def test_the_calendar_reads_its_appointments_on_every_request(desk, practice, patient):
    # Given a page already seen twice (its query compiled once and kept)
    assert blocks(desk, practice) == blocks(desk, practice) == []

    # When an appointment is booked, its status changed, then it is cancelled
    appointment = book(practice, patient, NINE)
    # Then each next request shows what is there now
    assert blocks(desk, practice) == [(appointment.pk, "booked")]
    Appointment.objects.filter(pk=appointment.pk).update(status="confirmed")
    assert blocks(desk, practice) == [(appointment.pk, "confirmed")]
    appointment.refresh_from_db()
    appointment_cancel(appointment=appointment, reason="Unwell", notify=False)
    assert blocks(desk, practice) == []
    assert blocks(desk, practice, cancelled="1") == [(appointment.pk, "cancelled")]


def test_the_calendar_rows_are_what_the_orm_reads(practice, patient):
    # Given appointments inside, across the edges of and outside a day, one cancelled
    other = ClinicianFactory(clinics=[practice.clinic])
    here = {"clinician": practice.clinician, "clinic": practice.clinic}
    cancelled = AppointmentFactory(**here, patient=patient, start=NINE, status="cancelled")
    AppointmentFactory(**here, patient=PatientFactory(alerts="Latex"), start=TEN)
    AppointmentFactory(**here, start=sydney(MONDAY, 23, 45))  # runs past midnight
    AppointmentFactory(**here, start=sydney(MONDAY + timedelta(days=1), 9))
    AppointmentFactory(**here, start=sydney(MONDAY, 0) - timedelta(minutes=15))  # and into it
    AppointmentFactory(clinician=other, clinic=practice.clinic, start=TEN)
    start, end = sydney(MONDAY, 0), sydney(MONDAY + timedelta(days=1), 0)
    user = UserFactory()
    columns = ("pk", "start", "end", "status", "patient__given_name", "patient__alerts")

    for show_cancelled in (False, True, False):  # the last one from the compiled query
        # When the calendar reads them
        rows = calendar_rows(
            user=user,
            clinic=practice.clinic,
            clinician_ids=[practice.clinician.pk],
            start=start,
            end=end,
            columns=columns,
            show_cancelled=show_cancelled,
        )
        # Then they are the rows, values and types the ORM reads (aware datetimes included)
        expected = (
            Appointment.objects.overlapping(start, end)
            .filter(clinic=practice.clinic, clinician=practice.clinician)
            .exclude(status__in=[] if show_cancelled else ["cancelled", "no_show"])
            .order_by("start")
            .values_list(*columns)
        )
        assert [tuple(row) for row in rows] == list(expected)
        assert len(rows) == (4 if show_cancelled else 3)
        assert (cancelled.pk in [row[0] for row in rows]) == show_cancelled
        assert all(timezone.is_aware(row[1]) and timezone.is_aware(row[2]) for row in rows)
    assert calendar_rows(
        user=user, clinic=practice.clinic, clinician_ids=[], start=start, end=end, columns=columns
    ) == list(expected.filter(clinician_id__in=[]))
