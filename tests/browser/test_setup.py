"""A practice admin signs in with a password and an authenticator code, then sets up a
clinician's week and an appointment type in a real browser."""

from datetime import time

from allauth.mfa.models import Authenticator
from playwright.sync_api import Page, expect

from clinicians.models import WorkingHours
from nexus import crypto
from tests.browser.conftest import sign_in
from tests.conftest import totp_code
from tests.factories import ClinicFactory, ClinicianFactory, UserFactory

PASSWORD = "correct-horse-battery"


def test_an_admin_signs_in_with_a_code_and_sets_up_a_clinicians_week(page: Page, transactional_db):
    clinic = ClinicFactory(name="Fremantle", timezone="Australia/Perth")
    ClinicianFactory(clinics=[clinic], given_name="Mei", family_name="Wang")
    admin = UserFactory(role="practice_admin")
    secret = crypto.decrypt(Authenticator.objects.get(user=admin, type="totp").data["secret"])

    sign_in(page, admin.email, PASSWORD)
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_label("Code").fill(totp_code(secret))
    with page.expect_navigation():
        page.keyboard.press("Enter")

    page.get_by_role("link", name="Setup").click()
    page.get_by_role("link", name="Mei Wang").click()
    page.get_by_label("Clinic, row 1").select_option(label="Fremantle")
    page.get_by_label("Weekday, row 1").select_option(label="Tuesday")
    page.get_by_label("From, row 1").fill("08:30")
    page.get_by_label("To, row 1").fill("16:00")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_contain_text("Saved Mei Wang.")
    assert list(WorkingHours.objects.values_list("weekday", "start_time", "end_time")) == [
        (1, time(8, 30), time(16))
    ]
    # An overlapping second block is refused in place, with nothing saved.
    page.get_by_label("Clinic, row 2").select_option(label="Fremantle")
    page.get_by_label("Weekday, row 2").select_option(label="Tuesday")
    page.get_by_label("From, row 2").fill("15:00")
    page.get_by_label("To, row 2").fill("18:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert").first).to_contain_text("Nothing was saved")
    expect(page.get_by_text("Overlaps Tuesday 08:30 to 16:00.")).to_be_visible()
    assert WorkingHours.objects.count() == 1
