"""Browser tests: Debian's Chromium driven by Playwright against a live server.

Run with `make test-browser` (CI installs chromium with apt). Playwright's own browser
download is not used: the launch names /usr/bin/chromium.
"""

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("NEXUS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "screenshots")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # Playwright runs its driver on an event loop; Django must not mistake that for async.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, live_server, transactional_db) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 1280, "height": 900},
        locale="en-AU",
        timezone_id="Australia/Sydney",
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    # A script error, a CSP violation or a missing file is a bug, whatever the test was
    # about. Refusals the page handles and shows (an upload rejected as 400) are not.
    handled = ("status of 400", "status of 409", "status of 413")
    assert [e for e in errors if not any(code in e for code in handled)] == []


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    page.screenshot(path=os.path.join(SCREENSHOTS, name), full_page=full_page)
