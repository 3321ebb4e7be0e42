"""The calendar's week view (one clinician by default, only the days someone works) and
the toggle that shows cancelled and no-show appointments."""

from datetime import timedelta

import pytest
from django.test import Client

from tests.conftest import MONDAY, sydney
from tests.factories import AppointmentFactory, ClinicianFactory, UserFactory, WorkingHoursFactory

pytestmark = pytest.mark.django_db


def week(client: Client, practice, **query):
    params = {"clinic": practice.clinic.pk, "date": MONDAY.isoformat(), "view": "week", **query}
    return client.get("/calendar/", params)


def test_the_week_view_shows_one_clinician_and_only_the_days_someone_works(desk, practice):
    # Given two clinicians who work weekdays only (Aaron sorts first)
    other = ClinicianFactory(clinics=[practice.clinic], family_name="Aaronson")
    WorkingHoursFactory(clinician=other, clinic=practice.clinic, weekday=0)

    # When the week view is opened without choosing a clinician
    response = week(desk, practice)

    # Then it shows the first clinician alone, and not the empty weekend
    page = response.context["page"]
    assert {c.clinician.pk for c in page.columns} == {other.pk}
    assert [c.day for c in page.columns] == [MONDAY]
    assert 'value="all"' in response.content.decode()

    everyone = week(desk, practice, clinician="all").context["page"]
    assert len(everyone.columns) == 5 * 2  # both clinicians on the five days someone works
    assert MONDAY + timedelta(days=5) not in {c.day for c in everyone.columns}


def test_a_clinician_sees_their_own_week_first(practice):
    user = UserFactory(role="clinician")
    practice.clinician.user = user
    practice.clinician.save()
    ClinicianFactory(clinics=[practice.clinic], family_name="Aaronson")
    client = Client()
    client.force_login(user)

    page = week(client, practice).context["page"]

    assert {c.clinician.pk for c in page.columns} == {practice.clinician.pk}


def test_a_weekend_appointment_keeps_its_day_in_the_week(desk, practice, patient):
    AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY + timedelta(days=5), 10),
    )

    page = week(desk, practice, clinician=practice.clinician.pk).context["page"]

    assert MONDAY + timedelta(days=5) in {c.day for c in page.columns}


def test_cancelled_and_no_show_appointments_show_only_when_asked(desk, practice, patient):
    for hour, status in [(9, "booked"), (10, "cancelled"), (11, "no_show")]:
        AppointmentFactory(
            patient=patient,
            clinician=practice.clinician,
            clinic=practice.clinic,
            appointment_type=practice.consult,
            start=sydney(MONDAY, hour),
            status=status,
        )
    day = {"clinic": practice.clinic.pk, "date": MONDAY.isoformat()}

    hidden = desk.get("/calendar/", day).context["page"].columns[0]
    shown = desk.get("/calendar/", {**day, "cancelled": "1"})

    assert [p.appointment.status for p in hidden.appointments] == ["booked"]
    statuses = [p.appointment.status for p in shown.context["page"].columns[0].appointments]
    assert statuses == ["booked", "cancelled", "no_show"]
    # The times they held are still free to book, and the choice survives paging.
    assert len(shown.context["page"].columns[0].free) == len(hidden.free)
    assert "cancelled=1" in shown.context["next_url"]
