"""Reception works the waitlist beside the calendar in Chromium: adds a patient, sees a
cancelled time offered by SMS to the most urgent patient, and books another by hand."""

from playwright.sync_api import Page, expect

from appointments.services import appointment_cancel
from tests.browser import test_journeys
from tests.browser.conftest import screenshot, sign_in, wait_for_htmx
from tests.browser.test_accessibility import axe_violations
from tests.browser.test_journeys import PASSWORD, tomorrow_at
from tests.factories import AppointmentFactory, PatientFactory, UserFactory
from waitlist.models import WaitlistEntry, WaitlistOffer
from waitlist.services import waitlist_entry_add

clinic_day = test_journeys.clinic_day
EVERY_DAY = range(7)


def test_reception_adds_to_the_waitlist_and_sees_a_freed_time_offered(page: Page, clinic_day):
    clinic, (mei, _liam, _sofia), consult, _review = clinic_day
    grace = PatientFactory(given_name="Grace", family_name="Hopper", sms_consent=True)
    waitlist_entry_add(
        patient=grace,
        clinician=mei,
        clinics=[clinic],
        appointment_type=consult,
        days=EVERY_DAY,
        urgency=WaitlistEntry.Urgency.URGENT,
    )
    PatientFactory(given_name="Ada", family_name="Lovelace", sms_consent=True)
    reception = UserFactory(role="reception", email="front@clinic.example")
    sign_in(page, reception.email, PASSWORD)
    page.goto(f"/calendar/?clinic={clinic.pk}")
    wait_for_htmx(page)

    # From the calendar to the waitlist; add Ada for Mei, any day, mornings.
    page.locator(".calendar-toolbar").get_by_role("link", name="Waitlist").click()
    expect(page.get_by_role("heading", name="Waitlist", exact=True)).to_be_visible()
    wait_for_htmx(page)
    form = page.locator("form", has=page.get_by_role("button", name="Add to the waitlist"))
    form.get_by_label("Patient").fill("Lovelace")
    form.get_by_label("Ada Lovelace").check()
    form.get_by_label("Type").select_option(label=str(consult))
    form.get_by_label("Clinician").select_option(label="Mei Wang")
    form.get_by_label("Parramatta").check()
    for day in ("Sat", "Sun"):
        form.get_by_label(day, exact=True).check()
    form.get_by_label("Urgency").select_option(label="Soon")
    form.get_by_role("button", name="Add to the waitlist").click()
    expect(page.get_by_role("status")).to_contain_text("Ada Lovelace is on the waitlist.")
    waiting = page.locator("section", has=page.get_by_role("heading", name="Waiting (2)"))
    expect(waiting.get_by_role("row")).to_have_count(3)  # the header and two patients
    # Most urgent first.
    expect(waiting.get_by_role("row").nth(1)).to_contain_text("Grace Hopper")

    # Mei's 10:00 tomorrow is cancelled: the time goes by SMS to Grace (urgent).
    freed = AppointmentFactory(
        clinician=mei, clinic=clinic, appointment_type=consult, start=tomorrow_at(clinic, 10)
    )
    appointment_cancel(appointment=freed, reason="Unwell")
    offer = WaitlistOffer.objects.get()
    assert (offer.entry.patient, offer.status) == (grace, "pending")
    assert "Reply YES within 30 min" in offer.message.body
    page.reload()
    wait_for_htmx(page)
    offers = page.locator("section", has=page.get_by_role("heading", name="Offers waiting"))
    expect(offers).to_contain_text("Grace Hopper")
    expect(offers).to_contain_text("10:00 AM")
    assert [v["id"] for v in axe_violations(page)] == []
    screenshot(page, "waitlist.png")

    # Book Ada by hand, with the keyboard: the booking panel opens with her chosen.
    ada_row = page.get_by_role("row", name="Ada Lovelace")
    ada_row.get_by_role("link", name="Book by hand").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Book an appointment")).to_be_visible()
    expect(page.get_by_text("Chosen: Ada Lovelace")).to_be_visible()
