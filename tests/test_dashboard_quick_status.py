"""Quick status buttons on today's list: Arrived and Completed in one click, back to the
dashboard, only where the appointment rules allow the change now."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from appointments.models import Appointment
from tests.conftest import signed_in
from tests.factories import AppointmentFactory, ClinicFactory, PatientFactory

pytestmark = pytest.mark.django_db


def test_reception_marks_arrived_then_completed_from_the_dashboard(now_is):
    # Given Ada booked at 10:00 today, and it is 9:55
    clinic = ClinicFactory(name="Alpha clinic", timezone="Australia/Sydney")
    today = timezone.localdate(timezone=clinic.tz)
    start = datetime.combine(today, time(10), tzinfo=clinic.tz)
    now_is(start - timedelta(minutes=5))
    ada = PatientFactory(given_name="Ada", family_name="Lovelace")
    booked = AppointmentFactory(clinic=clinic, patient=ada, start=start)
    AppointmentFactory(clinic=clinic, start=start + timedelta(days=1))  # tomorrow: not listed
    desk = signed_in("reception")
    home = f"/?clinic={clinic.pk}"

    # Then the dashboard offers Arrived (not yet Completed)
    page = desk.get(home)
    assert [a.quick_statuses for a in page.context["appointments"]] == [[("arrived", "Arrived")]]
    assert 'aria-label="Arrived: Ada Lovelace"' in page.content.decode()

    # When reception presses it, they stay on the dashboard, which now offers Completed
    response = desk.post(
        f"/calendar/appointments/{booked.pk}/status/", {"to": "arrived", "next": home}
    )
    assert (response.status_code, response["Location"]) == (302, home)
    booked.refresh_from_db()
    assert booked.status == Appointment.Status.ARRIVED
    page = desk.get(home)
    assert [a.quick_statuses for a in page.context["appointments"]] == [
        [("completed", "Completed")]
    ]
    desk.post(f"/calendar/appointments/{booked.pk}/status/", {"to": "completed", "next": home})
    booked.refresh_from_db()
    assert booked.status == Appointment.Status.COMPLETED


def test_a_foreign_next_is_ignored(now_is):
    clinic = ClinicFactory(name="Alpha clinic", timezone="Australia/Sydney")
    start = datetime.combine(timezone.localdate(timezone=clinic.tz), time(10), tzinfo=clinic.tz)
    now_is(start)
    booked = AppointmentFactory(clinic=clinic, start=start)
    desk = signed_in("reception")

    response = desk.post(
        f"/calendar/appointments/{booked.pk}/status/",
        {"to": "arrived", "next": "https://evil.example/"},
    )

    assert response["Location"].startswith("/calendar/?")
