"""The AI drafting journey (issue 19): a clinician types shorthand on a draft note, asks for
a SOAP draft, sees it land with its "Drafted with AI" label, edits it and signs it; the
chart and the signed note keep the label. The page is axe-clean with the card and the
label on it, and the request is made from the keyboard. The model is the local fake OpenAI
server, reached through the real SDK by the live server's in-process task."""

import re

from playwright.sync_api import Page, expect

from notes.models import AiJob, ClinicalNote
from tests.browser.conftest import sign_in, wait_for_htmx
from tests.browser.test_accessibility import FAILING, PHONE, axe_violations
from tests.factories import ClinicalNoteFactory, PatientFactory, UserFactory
from tests.notes.conftest import _openai_server, fake_openai  # noqa: F401 (the fake model)

PASSWORD = "correct-horse-battery"


def test_shorthand_to_a_signed_soap_note(page: Page, transactional_db, fake_openai):  # noqa: F811
    clinician = UserFactory(role="clinician", email="mei@clinic.example", full_name="Mei Wang")
    patient = PatientFactory(given_name="Ingrid", family_name="Halvorsen")
    note = ClinicalNoteFactory(patient=patient, author=clinician, kind="progress", body="")
    fake_openai.answer = {
        "subjective": "Right foot pain for three weeks, worse in the morning and with walking.",
        "objective": "Plantar fascia tender on palpation.",
        "assessment": "Presentation consistent with plantar fasciitis.",
        "plan": "Cast for orthotics at the next visit.",
    }
    sign_in(page, "mei@clinic.example", PASSWORD)
    page.goto(f"/notes/{note.pk}/")
    wait_for_htmx(page)

    page.get_by_label("Shorthand").fill(
        "R foot pain 3/52, worse AM, ↑ w/ walking, PF tender, plan: orthotics cast next visit"
    )
    page.get_by_label("Write it as").select_option("soap")
    button = page.get_by_role("button", name="Write the draft")
    button.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    wait_for_htmx(page)

    body = page.get_by_label("Body")
    expect(body).to_have_value(re.compile(r"^Subjective:\nRight foot pain for three weeks"))
    expect(page.get_by_role("note")).to_contain_text("Drafted with AI")
    assert [v for v in axe_violations(page) if v["impact"] in FAILING] == []
    page.set_viewport_size(PHONE)  # the card and the label fit a phone too
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert [v for v in axe_violations(page) if v["impact"] in FAILING] == []
    page.set_viewport_size({"width": 1280, "height": 900})
    note.refresh_from_db()
    assert note.status == ClinicalNote.Status.DRAFT and note.signed_at is None
    assert AiJob.objects.get().status == AiJob.Status.DONE
    assert "Halvorsen" not in fake_openai.sent_text()

    body.press("Control+End")
    body.press_sequentially(" Reviewed with patient.")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign note").click()
    wait_for_htmx(page)

    expect(page).to_have_url(re.compile(rf"/patients/{patient.pk}/"))
    expect(page.locator(f"#note-{note.pk}")).to_contain_text("Drafted with AI")
    note.refresh_from_db()
    assert note.status == ClinicalNote.Status.SIGNED and note.signed_by == clinician
    assert "Cast for orthotics at the next visit." in note.body
    assert note.body.rstrip().endswith("Reviewed with patient.")  # the clinician's edit
    page.goto(f"/notes/{note.pk}/")
    expect(page.locator(".note-signed")).to_contain_text("reviewed and signed by Mei Wang")
