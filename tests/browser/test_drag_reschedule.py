"""Reception drags an appointment to another time and clinician to move it; a clash is
refused in the side panel with nothing changed (the panel's Reschedule form is the
keyboard way to do the same)."""

from datetime import timedelta

from playwright.sync_api import Page, expect

from appointments.models import Appointment
from tests.browser import test_journeys
from tests.browser.test_journeys import tomorrow_at
from tests.browser.test_keyboard import open_calendar
from tests.factories import AppointmentFactory, PatientFactory

clinic_day = test_journeys.clinic_day
ROW = 18  # pixels per 15 minutes; the calendar starts at 8 AM


def at(hour: int, minute: int = 0) -> int:
    return ((hour - 8) * 60 + minute) // 15 * ROW


def test_dragging_an_appointment_moves_it_and_a_clash_is_refused(page: Page, clinic_day):
    clinic, (mei, liam, _sofia), consult, review = clinic_day
    ada = PatientFactory(given_name="Ada", family_name="Lovelace")
    moving = AppointmentFactory(
        patient=ada,
        clinician=mei,
        clinic=clinic,
        appointment_type=consult,
        start=tomorrow_at(clinic, 9),
    )
    AppointmentFactory(
        clinician=liam, clinic=clinic, appointment_type=review, start=tomorrow_at(clinic, 14)
    )
    open_calendar(page, clinic)
    block = page.locator(f'.cal-appt[data-appointment="{moving.pk}"]')
    liams = page.locator(f'.cal-col[data-clinician="{liam.pk}"]')

    # Onto Liam's 2:30 PM, which his 2 PM review still holds: refused, nothing moves.
    block.drag_to(
        liams, source_position={"x": 10, "y": 4}, target_position={"x": 10, "y": at(14, 30) + 4}
    )
    expect(page.locator("#panel").get_by_role("alert").first).to_contain_text("overlaps")
    moving.refresh_from_db()
    assert (moving.clinician_id, moving.start) == (mei.pk, tomorrow_at(clinic, 9))

    # Onto Liam's 11 AM: moved, same service and length.
    page.keyboard.press("Escape")
    block.drag_to(
        liams, source_position={"x": 10, "y": 4}, target_position={"x": 10, "y": at(11) + 4}
    )
    expect(page.get_by_role("status")).to_contain_text("Moved Ada Lovelace's appointment")
    moving.refresh_from_db()
    assert (moving.clinician_id, moving.start, moving.appointment_type_id) == (
        liam.pk,
        tomorrow_at(clinic, 11),
        consult.pk,
    )
    assert moving.end - moving.start == timedelta(minutes=30)
    assert Appointment.objects.count() == 2
