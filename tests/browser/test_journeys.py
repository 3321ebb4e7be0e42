"""The main journeys in a real browser: reception books from the calendar (and meets a
clash), a clinician writes and signs a note, a patient books online, with the keyboard
only as well."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from appointments.models import Appointment
from appointments.services import appointment_book
from notes.models import ClinicalNote
from tests.browser.conftest import screenshot, sign_in, wait_for_htmx
from tests.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    ClinicFactory,
    ClinicianFactory,
    PatientFactory,
    UserFactory,
    WorkingHoursFactory,
)

PASSWORD = "correct-horse-battery"


@pytest.fixture
def clinic_day(transactional_db):
    """A Sydney clinic whose three clinicians work every day, 08:00-18:00."""
    clinic = ClinicFactory(name="Parramatta", timezone="Australia/Sydney", address="1 Church St")
    people = [
        ClinicianFactory(clinics=[clinic], given_name=g, family_name=f, listed_publicly=True)
        for g, f in [("Mei", "Wang"), ("Liam", "Nguyen"), ("Sofia", "Rossi")]
    ]
    for clinician in people:
        for weekday in range(7):
            WorkingHoursFactory(
                clinician=clinician,
                clinic=clinic,
                weekday=weekday,
                start_time=time(8),
                end_time=time(18),
            )
    consult = AppointmentTypeFactory(
        name="Consultation", duration_minutes=30, colour="#2f80ed", bookable_online=True
    )
    review = AppointmentTypeFactory(name="Review", duration_minutes=60, colour="#27ae60")
    return clinic, people, consult, review


def tomorrow_at(clinic, hour: int) -> datetime:
    day = timezone.localdate(timezone=clinic.tz) + timedelta(days=1)
    return datetime.combine(day, time(hour), tzinfo=clinic.tz)


def test_reception_finds_a_patient_books_from_the_calendar_and_sees_a_clash(page: Page, clinic_day):
    clinic, (mei, liam, sofia), consult, review = clinic_day
    reception = UserFactory(role="reception", email="front@clinic.example")
    ada = PatientFactory(given_name="Ada", family_name="Lovelace", phone="+61412345678")
    PatientFactory(given_name="Adam", family_name="Smith")
    for hour, clinician, kind in [(9, mei, consult), (10, liam, review), (14, sofia, consult)]:
        AppointmentFactory(
            clinician=clinician,
            clinic=clinic,
            appointment_type=kind,
            start=tomorrow_at(clinic, hour),
        )
    sign_in(page, reception.email, PASSWORD)

    # Find the patient as you type.
    page.get_by_role("link", name="Patients").click()
    wait_for_htmx(page)
    page.get_by_label("Find a patient").fill("lovel")
    expect(page.get_by_role("link", name="Lovelace, Ada")).to_be_visible()

    # Book her with Mei Wang tomorrow at 11:00 from the calendar.
    day = tomorrow_at(clinic, 11).date()
    page.goto(f"/calendar/?clinic={clinic.pk}&date={day.isoformat()}")
    wait_for_htmx(page)
    page.get_by_role("link", name=f"Book Mei Wang at 11:00 AM {day:%a} {day.day} {day:%b}").click()
    panel = page.locator("#panel")
    expect(panel.get_by_role("heading", name="Book an appointment")).to_be_visible()
    wait_for_htmx(page)
    panel.get_by_label("Patient").fill("Lovelace")
    panel.get_by_label("Ada Lovelace").check()
    panel.get_by_label("Type").select_option(label=str(consult))
    panel.get_by_role("button", name="Book").click()
    expect(page.get_by_text("Booked Ada Lovelace with Mei Wang")).to_be_visible()
    expect(page.locator(".cal-appt", has_text="Ada Lovelace")).to_be_visible()
    wait_for_htmx(page)
    screenshot(page, "calendar.png")

    # Another receptionist takes 15:00 while this form is open: the clash is explained.
    page.get_by_role("link", name=f"Book Mei Wang at 3:00 PM {day:%a} {day.day} {day:%b}").click()
    wait_for_htmx(page)
    appointment_book(
        patient=PatientFactory(),
        clinician=mei,
        clinic=clinic,
        appointment_type=consult,
        start=tomorrow_at(clinic, 15),
    )
    panel.get_by_label("Patient").fill("Lovelace")
    panel.get_by_label("Ada Lovelace").check()
    panel.get_by_label("Type").select_option(label=str(consult))
    panel.get_by_role("button", name="Book").click()
    expect(panel.get_by_role("alert")).to_contain_text("already has an appointment that overlaps")
    assert Appointment.objects.filter(patient=ada).count() == 1


def test_a_clinician_writes_and_signs_a_note(page: Page, clinic_day):
    clinician_user = UserFactory(role="clinician", email="mei@clinic.example")
    patient = PatientFactory(given_name="Ada", family_name="Lovelace")
    sign_in(page, clinician_user.email, PASSWORD)

    page.goto(f"/patients/{patient.pk}/")
    page.get_by_role("link", name="New note").click()
    page.get_by_label("Title").fill("Knee review")
    page.get_by_label("Body").fill("Swelling reduced. Continue exercises twice daily.")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft — only you can see this")).to_be_visible()
    page.get_by_role("button", name="Sign note").click()

    expect(page.get_by_text("Note signed. It can no longer change.")).to_be_visible()
    expect(page.locator(".note-list li", has_text="Knee review")).to_contain_text("Signed")
    page.get_by_role("link", name="Knee review").click()
    expect(page.get_by_role("button", name="Sign note")).to_have_count(0)  # read-only now
    note = ClinicalNote.objects.get()
    assert note.status == "signed" and note.content_sha256


def test_a_patient_finds_a_clinician_and_books_online(page: Page, clinic_day):
    _clinic, (mei, _, _), _consult, _ = clinic_day

    page.goto("/book/")
    page.get_by_label("Clinician's name").fill("wang")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Mei Wang").click()
    screenshot(page, "online-booking.png", full_page=False)
    # Tomorrow's first time: today's next free time can be seconds away and pass mid-test.
    page.locator(".slot-day").nth(1).locator("a.slot").first.click()

    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("Date of birth").fill("09/12/1985")
    page.get_by_label("Mobile").fill("0412 345 678")
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("alert")).to_contain_text("Please agree")
    page.get_by_label("I agree to the clinic keeping").check()
    page.get_by_role("button", name="Book this time").click()

    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    appointment = Appointment.objects.get()
    assert (appointment.source, appointment.clinician_id) == ("online", mei.pk)


def test_booking_online_with_the_keyboard_only(page: Page, clinic_day):
    _clinic, (mei, _, _), _, _ = clinic_day
    page.goto(f"/book/{mei.pk}/")

    # Tab to tomorrow's first free time (today's next one may pass mid-test) and press Enter.
    first_slot = page.locator(".slot-day").nth(1).locator("a.slot").first
    for _ in range(80):
        page.keyboard.press("Tab")
        if first_slot.evaluate("el => el === document.activeElement"):
            break
    page.keyboard.press("Enter")
    page.wait_for_url("**/details/**")

    page.get_by_label("First name").focus()
    for keys in ["Alan", "Turing", "23/06/1912", "0412 999 888", "alan@example.com", "Quiet"]:
        page.keyboard.type(keys)
        page.keyboard.press("Tab")
    page.keyboard.press("Space")  # the consent box
    page.keyboard.press("Tab")  # SMS reminders: left unticked
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    booked = Appointment.objects.select_related("patient").get()
    assert (booked.patient.given_name, str(booked.patient.date_of_birth)) == ("Alan", "1912-06-23")
