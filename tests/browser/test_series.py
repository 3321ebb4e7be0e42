"""Reception books a weekly course of six from the calendar in Chromium: the third week is
taken, the panel lists the course with that time marked, and "skip" books the other five."""

from datetime import timedelta

from playwright.sync_api import Page, expect

from appointments.models import Appointment, AppointmentSeries
from appointments.recurrence import SeriesRule
from appointments.series import appointment_series_book
from tests.browser import test_journeys
from tests.browser.conftest import screenshot, sign_in, wait_for_htmx
from tests.browser.test_accessibility import axe_violations
from tests.browser.test_journeys import PASSWORD, tomorrow_at
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

clinic_day = test_journeys.clinic_day


def test_reception_books_a_weekly_series_of_six_skipping_a_clash(page: Page, clinic_day):
    clinic, (mei, _liam, _sofia), consult, _review = clinic_day
    ada = PatientFactory(given_name="Ada", family_name="Lovelace")
    taken = tomorrow_at(clinic, 11) + timedelta(weeks=2)
    AppointmentFactory(clinician=mei, clinic=clinic, appointment_type=consult, start=taken)
    reception = UserFactory(role="reception", email="front@clinic.example")
    sign_in(page, reception.email, PASSWORD)
    day = tomorrow_at(clinic, 11).date()
    page.goto(f"/calendar/?clinic={clinic.pk}&date={day.isoformat()}")
    wait_for_htmx(page)

    # From Mei's free 11:00 tomorrow: Ada, a consultation, every week, six times.
    page.get_by_role("link", name=f"Book Mei Wang at 11:00 AM {day:%a} {day.day} {day:%b}").click()
    panel = page.locator("#panel")
    wait_for_htmx(page)
    panel.get_by_label("Patient").fill("Lovelace")
    panel.get_by_label("Ada Lovelace").check()
    panel.get_by_label("Type").select_option(label=str(consult))
    panel.get_by_label("Repeat").select_option(label="Every week")
    panel.get_by_label("Times", exact=True).fill("6")
    panel.get_by_role("button", name="Book").click()

    # The third week is taken: nothing is booked, and the course is listed with why.
    wait_for_htmx(page)
    expect(panel.get_by_role("alert")).to_contain_text("1 of the 6 times cannot be booked")
    blocked = panel.locator(".series-blocked")
    expect(blocked).to_have_count(1)
    expect(blocked).to_contain_text(f"{taken.astimezone(clinic.tz):%a %-d %b %Y}")
    expect(blocked).to_contain_text("already booked")
    assert Appointment.objects.filter(patient=ada).count() == 0
    assert [v["id"] for v in axe_violations(page)] == []
    panel.locator(".series-preview").scroll_into_view_if_needed()
    screenshot(page, "series-booking.png", full_page=False)

    # Skip it: the other five are booked together.
    panel.get_by_label("Skip the times that cannot be booked").check()
    panel.get_by_role("button", name="Book").click()
    expect(page.get_by_role("status")).to_contain_text("Booked 5 appointments for Ada Lovelace")
    series = AppointmentSeries.objects.get()
    starts = [a.start for a in series.appointments.order_by("start")]
    assert len(starts) == 5
    assert taken not in starts
    assert {s.astimezone(clinic.tz).time() for s in starts} == {taken.astimezone(clinic.tz).time()}


def test_reception_cancels_the_rest_of_a_course_from_one_appointment(page: Page, clinic_day):
    clinic, (mei, _liam, _sofia), consult, _review = clinic_day
    ada = PatientFactory(given_name="Ada", family_name="Lovelace")
    first = tomorrow_at(clinic, 11)
    appointment_series_book(
        patient=ada,
        clinician=mei,
        clinic=clinic,
        appointment_type=consult,
        start=first,
        rule=SeriesRule(every_weeks=1, count=4),
    )
    third = Appointment.objects.order_by("start")[2]
    reception = UserFactory(role="reception", email="front@clinic.example")
    sign_in(page, reception.email, PASSWORD)
    page.goto(f"/calendar/appointments/{third.pk}/")

    expect(page.get_by_text("Repeat booking: every week, 4 times")).to_be_visible()
    page.locator("summary", has_text="Cancel appointment").click()
    page.get_by_label("Reason").fill("moving interstate")
    cancel_which = page.get_by_role("group", name="Cancel which")
    cancel_which.get_by_label("This and the following ones in the series").check()
    assert [v["id"] for v in axe_violations(page)] == []
    page.get_by_role("button", name="Cancel appointment").click()

    expect(page.get_by_role("status")).to_contain_text("from this one on")
    statuses = [a.status for a in Appointment.objects.filter(patient=ada).order_by("start")]
    assert statuses == ["booked", "booked", "cancelled", "cancelled"]
