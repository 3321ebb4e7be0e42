"""A session that ends while the calendar is open: the next click goes to the sign-in
page (a whole page, not inside the side panel) and signing in comes back."""

from playwright.sync_api import Page, expect

from tests.browser import test_journeys
from tests.browser.conftest import sign_in
from tests.browser.test_journeys import PASSWORD, tomorrow_at
from tests.factories import UserFactory

clinic_day = test_journeys.clinic_day


def test_a_click_after_the_session_ends_goes_to_sign_in_and_back(page: Page, clinic_day):
    # Given reception looking at tomorrow's calendar
    clinic, _people, _consult, _review = clinic_day
    reception = UserFactory(role="reception", email="front@clinic.example")
    sign_in(page, reception.email, PASSWORD)
    day = tomorrow_at(clinic, 9).date()
    calendar = f"/calendar/?clinic={clinic.pk}&date={day.isoformat()}"
    page.goto(calendar)

    # When the session ends and they choose a free time
    page.context.clear_cookies()
    page.get_by_role("link", name=f"Book Mei Wang at 11:00 AM {day:%a} {day.day} {day:%b}").click()

    # Then the sign-in page opens as a page, not inside the panel
    page.wait_for_url("**/accounts/login/**")
    expect(page.locator("#panel")).to_have_count(0)
    page.get_by_label("Email").fill(reception.email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # And signing in returns to the calendar they were on
    page.wait_for_url(f"**{calendar}")
    expect(page.locator("#panel")).to_be_visible()
