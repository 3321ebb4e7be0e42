"""Messages in a real browser: reception texts a patient from the chart and finds the text
on the Messages page; a message that failed shows first, and Retry sends it."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from integrations.models import Message
from tests.browser.conftest import sign_in, wait_for_htmx
from tests.factories import PatientFactory, UserFactory
from tests.fakes.smsbroadcast import FakeSmsBroadcast

PASSWORD = "correct-horse-battery"


@pytest.fixture
def fake_sms(settings) -> Iterator[FakeSmsBroadcast]:
    fake = FakeSmsBroadcast.start()
    for name, value in fake.settings().items():
        setattr(settings, name, value)
    yield fake
    fake.stop()


def test_reception_texts_a_patient_and_retries_a_failure(page: Page, fake_sms, transactional_db):
    UserFactory(role="reception", email="reception@nexus.test", password=PASSWORD)
    ada = PatientFactory(
        given_name="Ada", family_name="Lovelace", phone="+61412345678", sms_consent=True
    )
    sign_in(page, "reception@nexus.test", PASSWORD)

    page.goto(f"/patients/{ada.pk}/")
    wait_for_htmx(page)
    # The SMS card arrives by htmx and loads sms.js itself; htmx being idle does not mean the
    # script has run, and text typed before it binds its listener is never counted.
    page.wait_for_function("() => window.nexusSmsCounter === true")
    box = page.get_by_label("Message")
    box.fill("Your orthotics are ready to collect from Parramatta.")
    expect(page.locator("#sms-count")).to_have_text("52 characters · 1 SMS")
    box.fill("x" * 200)
    expect(page.locator("#sms-count")).to_have_text("200 characters · 2 SMS")
    box.fill("Your orthotics are ready to collect from Parramatta.")
    page.get_by_role("button", name="Send SMS").click()
    expect(page.get_by_text("SMS queued.")).to_be_visible()
    wait_for_htmx(page)
    expect(page.locator(".sms-history")).to_contain_text("Your orthotics are ready")
    assert [m["message"] for m in fake_sms.sent] == [
        "Your orthotics are ready to collect from Parramatta."
    ]

    # The provider runs out of credit: the next text fails for good after its tries.
    failed = Message.objects.create(
        kind="reminder",
        to="+61412345678",
        body="Reminder: Ada, see you tomorrow at 9:00 am.",
        patient=ada,
        status="failed",
        attempts=6,
        last_error="SMS Broadcast error: Insufficient credits",
    )
    page.get_by_role("link", name="Messages").first.click()
    rows = page.locator("table.messages-table tbody tr")
    expect(rows.first).to_contain_text("Insufficient credits")
    expect(rows.nth(1)).to_contain_text("Your orthotics are ready")

    rows.first.get_by_role("button", name="Retry").click()
    expect(page.get_by_text(f"Message {failed.pk} queued to send again.")).to_be_visible()
    expect(page.locator(f"#message-{failed.pk}")).to_contain_text("Sent")
    assert len(fake_sms.sent) == 2
