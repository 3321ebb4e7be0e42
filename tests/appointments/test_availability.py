from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from appointments.selectors import clinician_availability
from tests.conftest import MONDAY, sydney
from tests.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    ClinicFactory,
    ClinicianFactory,
    PatientFactory,
    TimeOffFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
# Sydney leaves daylight saving at 03:00 on Sunday 4 April 2032 (+11:00 becomes +10:00).
DST_ENDS = date(2032, 4, 4)


def slots_for(clinician, kind, day, *, end=None):
    return clinician_availability(
        clinician=clinician,
        appointment_type=kind,
        start_date=day,
        end_date=end or day,
        now=LONG_AGO,
    )


def test_free_slots_cover_working_hours_on_a_15_minute_grid(practice):
    slots = slots_for(practice.clinician, practice.consult, MONDAY)

    assert slots[0].start == sydney(MONDAY, 9)
    assert slots[-1].end == sydney(MONDAY, 17)
    # 09:00 to 16:30 in quarter hours.
    assert len(slots) == 31


def test_booked_appointments_and_time_off_are_not_offered(practice):
    AppointmentFactory(
        patient=PatientFactory(),
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )
    TimeOffFactory(clinician=practice.clinician, start=sydney(MONDAY, 12), end=sydney(MONDAY, 17))

    starts = {s.start for s in slots_for(practice.clinician, practice.consult, MONDAY)}

    assert sydney(MONDAY, 9, 30) in starts  # ends exactly when the booking begins
    assert sydney(MONDAY, 9, 45) not in starts
    assert sydney(MONDAY, 10, 15) not in starts
    assert sydney(MONDAY, 10, 30) in starts  # begins exactly when the booking ends
    assert max(starts) == sydney(MONDAY, 11, 30)


def test_cancelled_appointments_free_their_slot(practice):
    AppointmentFactory(
        patient=PatientFactory(),
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
        status="cancelled",
    )

    starts = {s.start for s in slots_for(practice.clinician, practice.consult, MONDAY)}

    assert sydney(MONDAY, 10) in starts


def test_slots_stay_on_wall_clock_hours_across_the_end_of_daylight_saving():
    # Given a clinician working 09:00-17:00 on Saturday, Sunday and Monday around the change
    clinic = ClinicFactory(name="Sydney DST", timezone="Australia/Sydney")
    clinician = ClinicianFactory(clinics=[clinic])
    for weekday in (5, 6, 0):
        WorkingHoursFactory(clinician=clinician, clinic=clinic, weekday=weekday)
    kind = AppointmentTypeFactory(name="Review", duration_minutes=15)

    # When the three days' availability is computed
    slots = slots_for(
        clinician, kind, DST_ENDS - timedelta(days=1), end=DST_ENDS + timedelta(days=1)
    )

    # Then each day runs 09:00-17:00 local: 32 quarter hours, offsets +11, +10, +10
    tz = ZoneInfo("Australia/Sydney")
    by_day: dict[date, list] = {}
    for slot in slots:
        by_day.setdefault(slot.start.astimezone(tz).date(), []).append(slot)
    assert [len(day) for day in by_day.values()] == [32, 32, 32]
    for day, offset in zip(sorted(by_day), (11, 10, 10), strict=True):
        first = by_day[day][0].start.astimezone(tz)
        assert first.time() == time(9, 0)
        assert first.utcoffset() == timedelta(hours=offset)
        assert by_day[day][-1].end.astimezone(tz).time() == time(17, 0)


def test_a_perth_clinic_offers_perth_hours():
    clinic = ClinicFactory(name="Perth", timezone="Australia/Perth")
    clinician = ClinicianFactory(clinics=[clinic])
    WorkingHoursFactory(clinician=clinician, clinic=clinic, weekday=0)
    kind = AppointmentTypeFactory(name="Initial", duration_minutes=60)

    slots = slots_for(clinician, kind, MONDAY)

    assert slots[0].start == datetime(2032, 3, 1, 1, 0, tzinfo=UTC)  # 09:00 AWST
    assert slots[0].clinic == clinic
    assert slots[-1].end.astimezone(ZoneInfo("Australia/Perth")).time() == time(17, 0)


def test_time_off_at_one_clinic_leaves_the_other_clinic_open(practice):
    other = ClinicFactory(name="Newtown")
    practice.clinician.clinics.add(other)
    WorkingHoursFactory(
        clinician=practice.clinician, clinic=other, weekday=1, start_time=time(9), end_time=time(12)
    )
    tuesday = MONDAY + timedelta(days=1)
    TimeOffFactory(
        clinician=practice.clinician,
        clinic=practice.clinic,
        start=sydney(tuesday, 0),
        end=sydney(tuesday, 23),
    )

    slots = slots_for(practice.clinician, practice.consult, tuesday)

    assert {s.clinic for s in slots} == {other}


def test_past_slots_are_not_offered(practice):
    slots = clinician_availability(
        clinician=practice.clinician,
        appointment_type=practice.consult,
        start_date=MONDAY,
        end_date=MONDAY,
        now=sydney(MONDAY, 12),
    )

    assert slots[0].start == sydney(MONDAY, 12)


def test_availability_api_returns_clinic_local_times(reception_api, practice):
    response = reception_api.get(
        f"/api/v1/clinicians/{practice.clinician.pk}/availability/",
        {"start": "2032-03-01", "end": "2032-03-02", "appointment_type": practice.consult.pk},
    )

    assert response.status_code == 200
    assert response.json()[0] == {
        "start": "2032-03-01T09:00:00+11:00",
        "end": "2032-03-01T09:30:00+11:00",
        "clinic": practice.clinic.pk,
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2032-03-02", "end": "2032-03-01"}, "end"),
        ({"start": "2032-03-01", "end": "2032-09-01"}, "end"),
        ({"start": "yesterday", "end": "2032-03-01"}, "start"),
    ],
)
def test_availability_api_rejects_bad_ranges(reception_api, practice, params, field):
    response = reception_api.get(
        f"/api/v1/clinicians/{practice.clinician.pk}/availability/",
        {**params, "appointment_type": practice.consult.pk},
    )

    assert response.status_code == 400
    assert field in response.json()["errors"]
