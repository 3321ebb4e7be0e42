"""Smaller gaps reception hit (issue 10.12): the chart's Book carries the patient, the chosen
clinic is remembered between pages, cancelled visits are not 'Upcoming', and staff never see
the API's parameter names."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import MONDAY, signed_in
from tests.factories import AppointmentFactory, ClinicFactory, PatientFactory

pytestmark = pytest.mark.django_db


def test_book_on_the_chart_carries_the_patient_into_the_booking_panel(desk, practice):
    ada = PatientFactory(given_name="Ada", family_name="Lovelace", home_clinic=practice.clinic)

    chart = desk.get(f"/patients/{ada.pk}/").content.decode()
    assert f"/calendar/?patient={ada.pk}&amp;clinic={practice.clinic.pk}" in chart
    calendar = desk.get("/calendar/", {"patient": ada.pk, "date": MONDAY}).content.decode()
    panel = desk.get(
        "/calendar/book/",
        {"clinic": practice.clinic.pk, "start": "2032-03-01T10:00:00+11:00", "patient": ada.pk},
    ).content.decode()

    assert "Booking for <strong>Ada Lovelace</strong>" in calendar
    assert f"&amp;patient={ada.pk}" in calendar  # on each free time's booking link
    assert f'name="patient" value="{ada.pk}"' in panel
    assert "Chosen: Ada Lovelace" in panel


def test_the_calendar_and_day_page_remember_the_clinic_chosen_last(desk, practice):
    ClinicFactory(name="Aardvark first by name")
    perth = ClinicFactory(name="Perth", timezone="Australia/Perth")

    desk.get("/calendar/", {"clinic": perth.pk})
    calendar = desk.get("/calendar/")
    home = desk.get("/")

    assert calendar.context["page"].clinic == perth
    assert home.context["clinic"] == perth


def test_a_cancelled_future_visit_is_not_listed_as_upcoming(desk):
    ada = PatientFactory()
    soon = timezone.now() + timedelta(days=3)
    AppointmentFactory(patient=ada, start=soon, status="cancelled")
    kept = AppointmentFactory(patient=ada, start=soon + timedelta(days=1))

    response = desk.get(f"/patients/{ada.pk}/")

    assert [a["id"] for a in response.context["upcoming"]] == [kept.pk]
    assert len(response.context["cancelled"]) == 1
    assert "<h3>Cancelled</h3>" in response.content.decode()


def test_outside_hours_refusal_names_the_tick_box_not_the_api_parameter(desk, practice, patient):
    admin = signed_in("practice_admin")

    response = admin.post(
        "/calendar/book/",
        {
            "patient": patient.pk,
            "clinician": practice.clinician.pk,
            "clinic": practice.clinic.pk,
            "appointment_type": practice.consult.pk,
            "date": MONDAY.isoformat(),
            "time": "19:00",
        },
    )

    page = response.content.decode()
    shown = re.sub(r"<[^>]*>", "", page)  # what a person reads, not attribute names
    assert "override_working_hours" not in shown
    assert "Tick “Book outside working hours or during time off” if you are sure." in page
