"""Booking or changing an appointment from the week view or a filtered view returns to that
view, not to the day view of all clinicians (issue 10.6)."""

from urllib.parse import parse_qs, urlsplit

import pytest

from appointments.models import Appointment
from tests.conftest import MONDAY, sydney
from tests.factories import AppointmentFactory, ClinicianFactory, WorkingHoursFactory

pytestmark = pytest.mark.django_db


def on_page(practice, **query: str) -> dict[str, str]:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return {
        "HTTP_HX_REQUEST": "true",
        "HTTP_HX_CURRENT_URL": f"http://testserver/calendar/?clinic={practice.clinic.pk}&{params}",
    }


def landing(response) -> dict[str, list[str]]:
    assert response.status_code == 200, response.content.decode()
    url = urlsplit(response["HX-Redirect"])
    assert url.path == "/calendar/"
    return parse_qs(url.query)


def test_booking_from_the_week_view_of_one_clinician_returns_there(desk, practice, patient):
    headers = on_page(
        practice, date=MONDAY.isoformat(), view="week", clinician=str(practice.clinician.pk)
    )

    response = desk.post(
        "/calendar/book/",
        {
            "patient": patient.pk,
            "clinician": practice.clinician.pk,
            "clinic": practice.clinic.pk,
            "appointment_type": practice.consult.pk,
            "date": MONDAY.replace(day=3).isoformat(),
            "time": "10:00",
        },
        **headers,
    )

    query = landing(response)
    assert query["view"] == ["week"]
    assert query["clinician"] == [str(practice.clinician.pk)]
    assert query["clinic"] == [str(practice.clinic.pk)]
    assert query["date"] == [MONDAY.replace(day=3).isoformat()]  # the week holding it
    assert Appointment.objects.count() == 1


def test_moving_to_another_clinician_keeps_the_filter_and_shows_the_new_column(
    desk, practice, patient
):
    other = ClinicianFactory(clinics=[practice.clinic])
    WorkingHoursFactory(clinician=other, clinic=practice.clinic, weekday=0)
    appointment = AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )
    headers = on_page(
        practice, date=MONDAY.isoformat(), view="week", clinician=str(practice.clinician.pk)
    )

    response = desk.post(
        f"/calendar/appointments/{appointment.pk}/move/",
        {"clinician": other.pk, "date": MONDAY.isoformat(), "time": "11:00"},
        **headers,
    )

    query = landing(response)
    assert query["view"] == ["week"]
    assert query["clinician"] == [str(practice.clinician.pk), str(other.pk)]


def test_a_status_change_from_the_day_view_stays_on_the_day_view(desk, practice, patient):
    appointment = AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )

    response = desk.post(
        f"/calendar/appointments/{appointment.pk}/status/",
        {"to": "confirmed"},
        **on_page(practice, date=MONDAY.isoformat(), view="day"),
    )

    assert landing(response)["view"] == ["day"]
