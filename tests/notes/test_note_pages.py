"""Notes pages: a signed note shows its addenda inline, in order, with signer and time;
notes are named by kind and day, never by id; an empty new note is not saved (10.10, 10.12)."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from notes.models import ClinicalNote
from notes.services import note_add_addendum, note_sign
from tests.conftest import signed_in
from tests.factories import ClinicalNoteFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db
SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.fixture
def author():
    return UserFactory(role="clinician", full_name="Mei Wang")


@pytest.fixture
def signed_note(author):
    note = ClinicalNoteFactory(author=author, patient=PatientFactory(), kind="soap")
    ClinicalNote.objects.filter(pk=note.pk).update(
        created_at=datetime(2032, 3, 3, 9, tzinfo=SYDNEY)
    )
    note.refresh_from_db()
    return note_sign(note=note, by=author)


def add(note, by, body: str) -> ClinicalNote:
    return note_sign(note=note_add_addendum(note=note, author=by, body=body), by=by)


def test_a_signed_note_shows_its_addenda_in_order_with_signer_and_time(author, signed_note):
    colleague = UserFactory(role="clinician", full_name="Sam Lee")
    first = add(signed_note, author, "Correction: left heel, not right.")
    second = add(signed_note, colleague, "Reviewed; agree with plan.")
    my_draft = note_add_addendum(note=signed_note, author=author, body="Half-written thought")

    page = signed_in(author).get(f"/notes/{signed_note.pk}/").content.decode()

    body = re.sub(r"\s+", " ", page)
    assert body.index("Correction: left heel") < body.index("Reviewed; agree with plan.")
    assert f"Signed by {first.signed_by}" in body and f"Signed by {second.signed_by}" in body
    assert re.search(r"Signed by Sam Lee on \d+ \w+ \d{4}, \d+:\d\d [AP]M", body)
    assert f'href="/notes/{my_draft.pk}/"' in body and "Half-written thought" not in body


def test_another_clinicians_draft_addendum_stays_private(author, signed_note):
    colleague = UserFactory(role="clinician")
    note_add_addendum(note=signed_note, author=colleague, body="Not yet signed by Sam")

    page = signed_in(author).get(f"/notes/{signed_note.pk}/").content.decode()

    assert "Not yet signed by Sam" not in page and "Addenda" not in page


def test_notes_are_named_by_kind_and_day_not_database_id(author, signed_note):
    addendum = note_add_addendum(note=signed_note, author=author, body="More")
    client = signed_in(author)

    chart = client.get(f"/patients/{signed_note.patient_id}/").content.decode()
    draft = client.get(f"/notes/{addendum.pk}/").content.decode()

    assert "SOAP note of 3 Mar 2032" in chart
    assert "Addendum to the SOAP note of 3 Mar 2032" in chart
    assert "<h1>Addendum to the SOAP note of 3 Mar 2032</h1>" in draft
    assert f"note {signed_note.pk}" not in chart + draft


def test_an_empty_new_note_is_not_saved(author):
    patient = PatientFactory()

    response = signed_in(author).post(
        f"/notes/new/{patient.pk}/", {"kind": "progress", "title": " ", "body": "  "}
    )

    assert response.status_code == 200
    assert "an empty note is not saved" in response.content.decode()
    assert not ClinicalNote.objects.exists()


def test_a_new_soap_note_starts_with_its_sections(author):
    patient = PatientFactory()

    page = signed_in(author).get(f"/notes/new/{patient.pk}/", {"kind": "soap"}).content.decode()

    assert "Subjective:\n\nObjective:\n\nAssessment:\n\nPlan:" in page
    assert 'id="note-outlines"' in page and "Presenting complaint:" in page  # for switching
    assert "data-unsaved-warning" in page and "js/notes.js" in page


def test_an_untouched_outline_is_not_saved_as_a_note(author):
    patient = PatientFactory()

    response = signed_in(author).post(
        f"/notes/new/{patient.pk}/",
        {
            "kind": "soap",
            "title": "",
            "body": "Subjective:\n\nObjective:\n\nAssessment:\n\nPlan:\n",
        },
    )

    assert "an empty note is not saved" in response.content.decode()
    assert not ClinicalNote.objects.exists()


def test_a_draft_autosaves_for_its_author_only_and_audits_it(author):
    draft = ClinicalNoteFactory(author=author, patient=PatientFactory(), body="")
    colleague = signed_in(UserFactory(role="clinician"))

    saved = signed_in(author).post(
        f"/notes/{draft.pk}/autosave/", {"title": "Knee", "body": "Swelling reduced."}
    )
    refused = colleague.post(f"/notes/{draft.pk}/autosave/", {"title": "", "body": "mine"})

    draft.refresh_from_db()
    assert saved.status_code == 200 and "saved_at" in saved.json()
    assert (draft.title, draft.body) == ("Knee", "Swelling reduced.")
    assert refused.status_code == 404  # another author's draft does not exist for them
    from audit.models import AuditEvent

    assert AuditEvent.objects.filter(detail__view="note_autosave", patient=draft.patient).exists()


def test_a_signed_note_cannot_be_autosaved(author, signed_note):
    response = signed_in(author).post(f"/notes/{signed_note.pk}/autosave/", {"body": "changed"})

    assert response.status_code == 409
    assert response.json()["code"] == "note_signed"
