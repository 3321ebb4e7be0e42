import hashlib

import pytest

from nexus.errors import NoteSigned, PermissionDenied
from notes.models import ClinicalNote
from notes.services import note_sign, note_update
from tests.factories import ClinicalNoteFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/notes/"


@pytest.fixture
def draft(clinician_user):
    return ClinicalNoteFactory(author=clinician_user, patient=PatientFactory())


def test_a_clinician_writes_a_draft(clinician_api, clinician_user, patient):
    response = clinician_api.post(
        URL, {"patient": patient.pk, "kind": "soap", "body": "S: heel pain"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["status"] == "draft"
    assert response.json()["author"] == clinician_user.pk


def test_signing_records_who_when_and_a_sha256_of_the_content(clinician_api, clinician_user, draft):
    response = clinician_api.post(f"{URL}{draft.pk}/sign/")

    note = ClinicalNote.objects.get(pk=draft.pk)
    assert response.status_code == 200
    assert note.status == "signed"
    assert note.signed_by == clinician_user
    assert note.signed_at is not None
    assert len(note.content_sha256) == 64
    assert note.content_sha256 == note.compute_sha256()
    assert response.json()["content_sha256"] == note.content_sha256


def test_the_digest_changes_when_any_signed_content_changes(draft, clinician_user):
    signed = note_sign(note=draft, by=clinician_user)
    original = signed.content_sha256

    signed.body += "."

    assert signed.compute_sha256() != original
    assert original != hashlib.sha256(b"").hexdigest()


def test_a_signed_note_cannot_be_edited_through_the_api(clinician_api, clinician_user, draft):
    note_sign(note=draft, by=clinician_user)

    response = clinician_api.patch(f"{URL}{draft.pk}/", {"body": "rewritten"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "note_signed"
    assert ClinicalNote.objects.get(pk=draft.pk).body != "rewritten"


def test_a_signed_note_cannot_be_saved_even_bypassing_the_services(draft, clinician_user):
    note_sign(note=draft, by=clinician_user)
    note = ClinicalNote.objects.get(pk=draft.pk)
    note.body = "tampered"

    with pytest.raises(ValueError, match="cannot be changed"):
        note.save()


def test_signing_twice_is_refused(draft, clinician_user):
    note_sign(note=draft, by=clinician_user)

    with pytest.raises(NoteSigned):
        note_sign(note=draft, by=clinician_user)


def test_clinicians_sign_only_their_own_notes(draft):
    colleague = UserFactory(role="clinician")

    with pytest.raises(PermissionDenied):
        note_sign(note=draft, by=colleague)
    with pytest.raises(PermissionDenied):
        note_update(note=draft, by=colleague, body="mine now")

    assert ClinicalNote.objects.get(pk=draft.pk).status == "draft"


def test_an_addendum_corrects_a_signed_note(clinician_api, clinician_user, draft):
    note_sign(note=draft, by=clinician_user)

    response = clinician_api.post(
        f"{URL}{draft.pk}/addenda/", {"body": "Correction: left foot, not right."}, format="json"
    )
    addendum_id = response.json()["id"]
    signed = clinician_api.post(f"{URL}{addendum_id}/sign/")

    assert response.status_code == 201
    assert response.json()["addendum_to"] == draft.pk
    assert response.json()["kind"] == "addendum"
    assert signed.json()["status"] == "signed"
    assert ClinicalNote.objects.get(pk=draft.pk).body == draft.body


def test_drafts_get_no_addenda(clinician_api, draft):
    response = clinician_api.post(f"{URL}{draft.pk}/addenda/", {"body": "x"}, format="json")

    assert response.status_code == 400


def test_reception_sees_that_notes_exist_but_never_their_text(reception_api, draft, clinician_user):
    note_sign(note=draft, by=clinician_user)

    listing = reception_api.get(URL, {"patient": draft.patient_id})
    detail = reception_api.get(f"{URL}{draft.pk}/")

    assert listing.status_code == 200
    assert listing.json()["results"][0]["id"] == draft.pk
    assert "body" not in listing.json()["results"][0]
    assert "body" not in detail.json()


def test_reception_cannot_write_or_sign_notes(reception_api, patient, draft):
    created = reception_api.post(URL, {"patient": patient.pk, "body": "x"}, format="json")
    signed = reception_api.post(f"{URL}{draft.pk}/sign/")

    assert created.status_code == 403
    assert signed.status_code == 403
    assert ClinicalNote.objects.get(pk=draft.pk).status == "draft"


def test_notes_filter_by_patient(clinician_api, clinician_user):
    mine = ClinicalNoteFactory(author=clinician_user)
    ClinicalNoteFactory(author=clinician_user)

    response = clinician_api.get(URL, {"patient": mine.patient_id})

    assert [n["id"] for n in response.json()["results"]] == [mine.pk]
