"""Letters and email in a real browser: a clinician signs a note, writes a letter to the
referrer, sends it from the clinic's Gmail account and sees it sent on the chart."""

import pytest
from playwright.sync_api import Page, expect

from integrations.gmail.services import gmail_connect
from integrations.models import Message
from integrations.oauth import TokenSet
from tests.browser.conftest import screenshot, sign_in, wait_for_htmx
from tests.factories import (
    ClinicFactory,
    ClinicianFactory,
    PatientFactory,
    ReferrerFactory,
    UserFactory,
)
from tests.integrations.gmail.conftest import _gmail_server, fake_gmail  # noqa: F401

PASSWORD = "correct-horse-battery"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }


def test_a_clinician_signs_writes_a_letter_and_emails_it_to_the_referrer(
    page: Page,
    fake_gmail,  # noqa: F811
    media,
    transactional_db,
):
    admin = UserFactory(role="practice_admin")
    account = gmail_connect(
        tokens=TokenSet.from_response(fake_gmail.issue_tokens("reception@harbour.example")),
        email="reception@harbour.example",
        user=admin,
    )
    clinic = ClinicFactory(
        name="Harbour Physio", address="1 Quay St, Sydney NSW 2000", abn="51 824 753 556"
    )
    user = UserFactory(role="clinician", email="mina@harbour.example", password=PASSWORD)
    ClinicianFactory(
        user=user,
        title="Dr",
        given_name="Mina",
        family_name="Lee",
        provider_number="2451234A",
        clinics=[clinic],
    )
    ada = PatientFactory(
        given_name="Ada",
        family_name="Lovelace",
        home_clinic=clinic,
        referrer=ReferrerFactory(name="Dr Grace Hopper", email="gp@harbour-medical.example"),
    )
    sign_in(page, user.email, PASSWORD)

    # Sign a note
    page.goto(f"/patients/{ada.pk}/")
    page.get_by_role("link", name="New note").click()
    page.get_by_label("Title").fill("Initial assessment")
    page.get_by_label("Body").fill("Marked overpronation on gait analysis. Orthoses recommended.")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("button", name="Sign note").click()
    expect(page.get_by_text("Note signed. It can no longer change.")).to_be_visible()

    # Write a letter to the referrer
    page.get_by_role("link", name="Initial assessment").click()
    page.get_by_label("The referrer (Dr Grace Hopper)").check()
    page.get_by_role("button", name="Write letter").click()
    expect(page.get_by_text("Letter to the referrer saved on the chart")).to_be_visible()
    letter = ada.documents.get(category="letter")

    # The chart's Email card opens ready to send it: to the referrer, the letter attached
    wait_for_htmx(page)
    card = page.locator("#email-panel")
    expect(card.get_by_label("To", exact=True)).to_have_value("referrer")
    expect(card.get_by_label(letter.original_name, exact=False)).to_be_checked()
    expect(card.get_by_label("Subject")).to_have_value("Letter about Ada Lovelace")
    # Send it from the clinic account
    card.get_by_label("From").select_option(str(account.pk))
    card.get_by_label("Subject").fill("Ada Lovelace: initial assessment")
    card.get_by_label("Email text").fill("Dear Dr Hopper, our letter is attached.")
    screenshot(page, "email-compose.png", full_page=False)
    card.get_by_role("button", name="Send email").click()

    expect(card.get_by_text("Email queued")).to_be_visible()
    expect(card.locator(".email-history")).to_contain_text("Ada Lovelace: initial assessment")
    expect(card.locator(".email-history")).to_contain_text("Sent")
    assert Message.objects.get(channel="email").status == "sent"
    (sent,) = fake_gmail.sent
    assert sent.message["To"] == "gp@harbour-medical.example"
    assert [a.get_filename() for a in sent.message.iter_attachments()] == [letter.original_name]
