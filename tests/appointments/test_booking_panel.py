"""The staff booking panel offers only what can be booked (issue 10.12): start times where
the chosen type's whole length is free, and the clinicians of the chosen clinic."""

import re

import pytest
from django.test import Client

from tests.conftest import MONDAY, sydney
from tests.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    ClinicFactory,
    ClinicianFactory,
    PatientFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db


def panel(desk: Client, practice, **query) -> str:
    params = {"clinic": practice.clinic.pk, "clinician": practice.clinician.pk, **query}
    response = desk.get("/calendar/book/", params)
    assert response.status_code == 200
    return response.content.decode()


def offered(page: str) -> list[str]:
    (datalist,) = re.findall(r'<datalist id="booking-start-times">(.*?)</datalist>', page, re.S)
    return re.findall(r'<option value="(\d\d:\d\d)">', datalist)


def test_the_panel_offers_only_start_times_an_hour_long_type_fits(desk, practice):
    # Given a 09:00-17:00 Monday with a booking at 11:00-11:30 and a 60-minute type
    AppointmentFactory(
        patient=PatientFactory(),
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 11),
    )
    hour = AppointmentTypeFactory(name="Initial assessment", duration_minutes=60)

    # When reception opens the panel from the 16:30 free time and chooses that type
    page = panel(desk, practice, start=sydney(MONDAY, 16, 30).isoformat(), appointment_type=hour.pk)

    # Then only starts whose whole hour is free are offered, and 16:30 is said not to fit
    starts = offered(page)
    assert starts[0] == "09:00" and starts[-1] == "16:00"
    assert "10:00" in starts and "11:30" in starts
    for taken in ("10:15", "10:30", "10:45", "11:00", "11:15", "16:15", "16:30"):
        assert taken not in starts
    assert 'list="booking-start-times"' in page
    assert "A 60-minute Initial assessment does not fit at this time." in page
    assert "It fits at 9:00 AM and 23 other times" in page


def test_a_time_that_fits_gets_no_warning_and_a_full_day_says_so(desk, practice):
    fits = panel(
        desk, practice, start=sydney(MONDAY, 10).isoformat(), appointment_type=practice.consult.pk
    )
    whole_day = AppointmentTypeFactory(name="Clinic day", duration_minutes=9 * 60)
    full = panel(desk, practice, date=MONDAY.isoformat(), appointment_type=whole_day.pk)

    assert "10:00" in offered(fits)
    assert "does not fit" not in fits
    assert offered(full) == []
    assert "No free time this day fits a 540-minute Clinic day" in full


def test_the_panel_lists_only_the_chosen_clinics_clinicians(desk, practice, patient):
    elsewhere = ClinicianFactory(
        given_name="Zed", family_name="Elsewhere", clinics=[ClinicFactory(name="Perth")]
    )

    page = panel(desk, practice, start=sydney(MONDAY, 10).isoformat())
    booked = desk.post(
        "/calendar/book/",
        {
            "patient": patient.pk,
            "clinician": elsewhere.pk,
            "clinic": practice.clinic.pk,
            "appointment_type": practice.consult.pk,
            "date": MONDAY.isoformat(),
            "time": "10:00",
        },
    )

    (clinicians,) = re.findall(r'<select name="clinician".*?</select>', page, re.S)
    assert f'<option value="{practice.clinician.pk}"' in clinicians
    assert f'<option value="{elsewhere.pk}"' not in clinicians
    assert booked.status_code == 200  # the form again, with the refusal
    assert "Select a valid choice" in booked.content.decode()
    assert not patient.appointments.exists()


def test_a_far_off_day_in_the_query_is_not_an_error(desk, practice):
    page = panel(desk, practice, date="9999-12-31", appointment_type=practice.consult.pk)

    assert "booking-start-times" in page  # the field is there; no times are offered
    assert "<datalist" not in page


def test_asking_again_for_the_start_times_answers_that_part_alone(desk, practice):
    # Given the panel open, when reception changes the day (htmx asks for the times part)
    query = {
        "clinic": practice.clinic.pk,
        "clinician": practice.clinician.pk,
        "appointment_type": practice.consult.pk,
        "date": MONDAY.isoformat(),
    }
    whole = panel(desk, practice, **query)
    response = desk.get(
        "/calendar/book/", query, headers={"HX-Request": "true", "HX-Target": "booking-starts"}
    )

    # Then the answer is the start times the panel swaps in, the same as the full panel's
    part = response.content.decode()
    assert response.status_code == 200
    assert part.lstrip().startswith('<div id="booking-starts"')
    assert offered(part) == offered(whole) and "09:00" in offered(part)
    assert "<select" not in part and "<form" not in part


def test_the_start_times_part_offers_none_for_a_clinician_of_another_clinic(desk, practice):
    # Given a clinician who works the same hours, but at another clinic only
    elsewhere = ClinicianFactory(clinics=[ClinicFactory(name="Perth")])
    WorkingHoursFactory(clinician=elsewhere, clinic=elsewhere.clinics.get(), weekday=0)
    query = {
        "clinic": practice.clinic.pk,
        "appointment_type": practice.consult.pk,
        "date": MONDAY.isoformat(),
    }
    htmx = {"HX-Request": "true", "HX-Target": "booking-starts"}

    # When the panel asks for the start times of each at this clinic
    here = desk.get("/calendar/book/", {**query, "clinician": practice.clinician.pk}, headers=htmx)
    there = desk.get("/calendar/book/", {**query, "clinician": elsewhere.pk}, headers=htmx)

    # Then this clinic's clinician has times and the other none (no list is drawn at all)
    assert "09:00" in offered(here.content.decode())
    assert there.status_code == 200 and "<datalist" not in there.content.decode()
