"""Browser tests: Debian's Chromium driven by Playwright against a live server.

Run with `make test-browser` (CI installs chromium with apt). Playwright's own browser
download is not used: the launch names /usr/bin/chromium.

After anything that loads a page or swaps HTMX content, call `wait_for_htmx(page)` before
typing into or clicking what arrived: a visible element is not yet a wired one (htmx binds
its listeners when it settles the swap), and text typed before that is lost.

`screenshot()` writes docs/screenshots/ only under `make screenshots` (NEXUS_SCREENSHOTS=1):
a test run never changes tracked files.
"""

import os
import threading
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("NEXUS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "screenshots")

# Installed in every document before its own scripts run. htmx is idle when no request is
# in flight, no swap is settling, and every element carrying an hx- verb has been processed
# (htmx fires htmx:afterProcessNode once it has bound that element's listeners).
HTMX_WATCH = """(() => {
  const bound = new WeakSet();
  document.addEventListener("htmx:afterProcessNode", (event) => bound.add(event.target));
  const verbs = ["get", "post", "put", "patch", "delete"]
    .flatMap((verb) => [`[hx-${verb}]`, `[data-hx-${verb}]`])
    .join(", ");
  window.__nexusHtmxIdle = () =>
    document.readyState !== "loading" &&
    window.htmx !== undefined &&
    document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling") === null &&
    Array.from(document.querySelectorAll(verbs)).every((el) => bound.has(el));
})();"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session", autouse=True)
def every_view_loaded() -> None:
    """Load the URL conf, and with it every view and vendor SDK, before the first test. Left
    to a live server's first request it costs about 6 s of CPU: at a load average of 8 that
    request took 46 s and the test's page load (30 s allowed) failed. Production does the
    same before its first request (nexus/wsgi.py, under gunicorn's preload_app)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - loading is the point


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
def one_request_at_a_time_on_sqlite(live_server) -> Iterator[None]:
    """On SQLite the live server's request threads share the test's one in-memory database
    connection; a page's htmx refresh arriving while a booking POST writes then fails with
    "database table is locked" (a 500 the page reports). Run the requests one at a time there,
    as SQLite would serialise writers anyway. PostgreSQL keeps them concurrent, as production."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    if connection.vendor != "sqlite":
        yield
        return
    lock = threading.Lock()
    handle = WSGIHandler.__call__

    def serialised(self, environ, start_response):  # type: ignore[no-untyped-def]
        with lock:
            return handle(self, environ, start_response)

    WSGIHandler.__call__ = serialised  # type: ignore[method-assign]
    try:
        yield
    finally:
        WSGIHandler.__call__ = handle  # type: ignore[method-assign]


@pytest.fixture
def page(
    browser: Browser, live_server, transactional_db, one_request_at_a_time_on_sqlite
) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 1280, "height": 900},
        locale="en-AU",
        timezone_id="Australia/Sydney",
    )
    context.add_init_script(HTMX_WATCH)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    _wait_for_requests_to_finish()
    # A script error, a CSP violation or a missing file is a bug, whatever the test was
    # about. Refusals the page handles and shows (an upload rejected as 400) are not.
    handled = ("status of 400", "status of 409", "status of 413")
    assert [e for e in errors if not any(code in e for code in handled)] == []


def _wait_for_requests_to_finish(timeout: float = 15.0) -> None:
    """Closing the browser drops its connections, but a request already inside Django (an
    autosave the test did not wait for) runs on. The test database is flushed next; on
    SQLite a write still in flight then fails the flush ("database table is locked") and the
    next test starts with the last one's rows. Join the live server's request threads first
    (daemon threads, which socketserver does not keep a list of, so found by their target)."""
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread.name.endswith("(process_request_thread)"):
            thread.join(max(0.0, deadline - time.monotonic()))


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    wait_for_htmx(page)


def wait_for_htmx(page: Page) -> None:
    """Wait until htmx has loaded, finished every request and swap, and wired every element
    it will wire: only then does typing into a swapped-in search box reach the server."""
    page.wait_for_function("() => window.__nexusHtmxIdle && window.__nexusHtmxIdle()")


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    """Save a picture for the README, only under `make screenshots`."""
    if os.environ.get("NEXUS_SCREENSHOTS") != "1":
        return
    wait_for_htmx(page)
    page.screenshot(path=os.path.join(SCREENSHOTS, name), full_page=full_page)


from tests.integrations.xero.conftest import (  # noqa: E402, F401 (the billing journey's fake Xero)
    _xero_server,
    fake_xero,
    xero_connected,
)
