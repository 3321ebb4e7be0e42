"""The one availability engine (appointments/availability.py): what the calendar, the API
and the booking panel all read free time from."""

from datetime import UTC, datetime, time, timedelta

import pytest

from appointments.availability import open_blocks
from appointments.calendar import calendar_page
from tests.conftest import MONDAY, sydney
from tests.factories import (
    AppointmentFactory,
    ClinicFactory,
    PatientFactory,
    TimeOffFactory,
    UserFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def test_free_time_is_working_hours_less_appointments_and_time_off(practice):
    AppointmentFactory(
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )
    TimeOffFactory(clinician=practice.clinician, start=sydney(MONDAY, 12), end=sydney(MONDAY, 13))

    (block,) = open_blocks(
        clinician_ids=[practice.clinician.pk], start_date=MONDAY, end_date=MONDAY
    )

    assert block.day == MONDAY and block.clinic == practice.clinic
    assert block.free == (
        (sydney(MONDAY, 9), sydney(MONDAY, 10)),
        (sydney(MONDAY, 10, 30), sydney(MONDAY, 12)),
        (sydney(MONDAY, 13), sydney(MONDAY, 17)),
    )


def test_a_start_is_offered_only_where_the_whole_length_fits(practice):
    AppointmentFactory(
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 11),
    )
    (block,) = open_blocks(
        clinician_ids=[practice.clinician.pk], start_date=MONDAY, end_date=MONDAY
    )

    hour = block.starts(length=timedelta(hours=1), not_before=LONG_AGO)

    assert sydney(MONDAY, 10) in hour
    assert sydney(MONDAY, 10, 15) not in hour  # would run into the 11:00 appointment
    assert sydney(MONDAY, 11, 30) in hour
    assert max(hour) == sydney(MONDAY, 16)  # the last hour that ends by 17:00
    later = block.starts(length=timedelta(hours=1), not_before=sydney(MONDAY, 14, 5))
    assert min(later) == sydney(MONDAY, 14, 15)


def test_the_calendar_shows_no_free_time_while_the_clinician_is_at_another_clinic(practice):
    # Given a clinician who works at two clinics and is booked at the other one at 10:00
    other = ClinicFactory(name="Newtown")
    practice.clinician.clinics.add(other)
    WorkingHoursFactory(
        clinician=practice.clinician, clinic=other, weekday=0, start_time=time(9), end_time=time(17)
    )
    AppointmentFactory(
        patient=PatientFactory(),
        clinician=practice.clinician,
        clinic=other,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )

    # When this clinic's calendar is drawn for that day
    page = calendar_page(
        user=UserFactory(role="reception"),
        clinic=practice.clinic,
        start_day=MONDAY,
        days=1,
        now=LONG_AGO,
    )

    # Then 10:00-10:30 is not offered here (booking it would be refused as a clash)
    (column,) = page.columns
    free = {slot.start for slot in column.free}
    assert sydney(MONDAY, 9, 45) in free and sydney(MONDAY, 10, 30) in free
    assert sydney(MONDAY, 10) not in free and sydney(MONDAY, 10, 15) not in free
