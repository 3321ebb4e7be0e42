"""A patient books online, the confirmation SMS arrives (at the fake SMS Broadcast) with
the link to the booking, and the patient opens it and moves the appointment."""

import re
from collections.abc import Iterator
from datetime import time

import pytest
from playwright.sync_api import Page, expect

from appointments.models import Appointment
from tests.factories import (
    AppointmentTypeFactory,
    ClinicFactory,
    ClinicianFactory,
    WorkingHoursFactory,
)
from tests.fakes.smsbroadcast import FakeSmsBroadcast


@pytest.fixture
def fake_sms(settings) -> Iterator[FakeSmsBroadcast]:
    fake = FakeSmsBroadcast.start()
    for name, value in fake.settings().items():
        setattr(settings, name, value)
    yield fake
    fake.stop()


@pytest.fixture
def mei(transactional_db):
    clinic = ClinicFactory(
        name="Parramatta", timezone="Australia/Sydney", phone="+61298765432", address="1 Church St"
    )
    clinician = ClinicianFactory(
        clinics=[clinic], given_name="Mei", family_name="Wang", listed_publicly=True
    )
    for weekday in range(7):
        WorkingHoursFactory(
            clinician=clinician,
            clinic=clinic,
            weekday=weekday,
            start_time=time(8),
            end_time=time(18),
        )
    AppointmentTypeFactory(name="Consultation", duration_minutes=30, bookable_online=True)
    return clinician


def test_a_patient_books_gets_the_sms_and_moves_the_time_by_its_link(page: Page, mei, fake_sms):
    page.goto(f"/book/{mei.pk}/")
    expect(page.get_by_text("Phone (02) 9876 5432")).to_be_visible()
    # Next week: well outside the notice the practice asks for changes.
    page.get_by_role("link", name="Later →").click()
    page.locator(".slot-day").first.locator("a.slot").first.click()
    expect(page.get_by_role("status").filter(has_text="holding this time")).to_be_visible()

    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("Date of birth").fill("09/12/1985")
    page.get_by_label("Mobile").fill("0412 345 678")
    page.get_by_label("I agree to the clinic keeping").check()
    page.get_by_label("Send me reminders by SMS").check()
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    booked = Appointment.objects.get()

    # Sent after the booking's commit, before its page answered.
    (sms,) = [m for m in fake_sms.sent if "Change or cancel:" in m["message"]]
    assert sms["to"] == "61412345678"
    link = re.search(r"Change or cancel: (\S+)$", sms["message"]).group(1)  # type: ignore[union-attr]
    assert "Grace" not in link

    page.goto(link)
    expect(page.get_by_role("link", name="Add to calendar")).to_be_visible()
    page.get_by_role("link", name="change the time").click()
    expect(page.get_by_role("heading", name="Change the time")).to_be_visible()
    page.locator(".slot-day").nth(1).locator("button.slot").first.click()

    expect(page.get_by_role("status").filter(has_text="Your appointment has moved")).to_be_visible()
    moved = Appointment.objects.get()
    assert moved.start != booked.start
    assert any("has moved" in m["message"] for m in fake_sms.sent)
