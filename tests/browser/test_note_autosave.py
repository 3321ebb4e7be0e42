"""A draft note saves itself as the clinician types, and the page warns before leaving text
that has not been saved (issue 10, note templates and autosave)."""

import re

from playwright.sync_api import Dialog, Page, Route, expect

from notes.models import ClinicalNote
from tests.browser.conftest import sign_in, wait_for_htmx
from tests.factories import ClinicalNoteFactory, UserFactory

PASSWORD = "correct-horse-battery"
SAVED = re.compile(r"^Draft saved at \d{1,2}:\d{2} [AP]M\.$")


def _draft(transactional_db) -> ClinicalNote:
    clinician = UserFactory(role="clinician", email="mei@clinic.example")
    return ClinicalNoteFactory(author=clinician, title="Heel review", body="S: sore heel.")


def _leave_and_note_the_question(page: Page) -> list[str]:
    """Follow the back link; any "leave this page?" question is answered "stay"."""
    asked: list[str] = []

    def stay(dialog: Dialog) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)
    page.get_by_role("link", name=re.compile("^← ")).click()
    return asked


def test_a_draft_saves_itself_while_typing_and_is_there_after_reload(page: Page, transactional_db):
    note = _draft(transactional_db)
    sign_in(page, "mei@clinic.example", PASSWORD)
    page.goto(f"/notes/{note.pk}/")
    wait_for_htmx(page)

    body = page.get_by_label("Body")
    body.press("End")
    body.press_sequentially(" O: tender medial calcaneus.")
    # No click on Save: the status line says when the page saved it by itself.
    expect(page.locator("[data-autosave-status]")).to_have_text(SAVED, timeout=15_000)

    note.refresh_from_db()
    assert note.body == "S: sore heel. O: tender medial calcaneus."
    assert note.status == ClinicalNote.Status.DRAFT
    page.reload()
    wait_for_htmx(page)
    expect(page.get_by_label("Body")).to_have_value("S: sore heel. O: tender medial calcaneus.")
    # Saved text leaves without a question.
    assert _leave_and_note_the_question(page) == []
    expect(page).to_have_url(re.compile(rf"/patients/{note.patient_id}/"))


def test_leaving_with_unsaved_text_asks_first(page: Page, transactional_db):
    note = _draft(transactional_db)
    sign_in(page, "mei@clinic.example", PASSWORD)
    page.goto(f"/notes/{note.pk}/")
    wait_for_htmx(page)
    # A slow connection: the autosave goes out but the server has not answered yet.
    held: list[Route] = []
    page.route("**/autosave/", lambda route: held.append(route))

    body = page.get_by_label("Body")
    body.press("End")
    with page.expect_request("**/autosave/", timeout=15_000):
        body.press_sequentially(" Plan: orthotics.")
    expect(page.locator("[data-autosave-status]")).to_have_text("")

    assert _leave_and_note_the_question(page) == ["beforeunload"]
    # The clinician chose to stay: still on the draft, with the text typed.
    expect(page).to_have_url(re.compile(rf"/notes/{note.pk}/$"))
    expect(page.get_by_label("Body")).to_have_value("S: sore heel. Plan: orthotics.")
    note.refresh_from_db()
    assert note.body == "S: sore heel."
