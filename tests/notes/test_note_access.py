"""Object-level access: the matrix of role x endpoint for a note the role may not see."""

import pytest
from rest_framework.test import APIClient

from notes.models import ClinicalNote
from tests.factories import ClinicalNoteFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ["practice_admin", "clinician", "reception"]


def requests_for(note: ClinicalNote) -> list[tuple[str, str, dict]]:
    return [
        ("get", f"/api/v1/notes/{note.pk}/", {}),
        ("patch", f"/api/v1/notes/{note.pk}/", {"body": "overwritten"}),
        ("post", f"/api/v1/notes/{note.pk}/sign/", {}),
        ("post", f"/api/v1/notes/{note.pk}/addenda/", {"body": "addendum"}),
    ]


@pytest.fixture
def someone_elses_draft(db):
    return ClinicalNoteFactory(author=UserFactory(role="clinician"), body="private draft")


@pytest.mark.parametrize("role", ROLES)
def test_another_authors_draft_does_not_exist_for_any_role(role, someone_elses_draft):
    client = APIClient()
    client.force_authenticate(UserFactory(role=role))

    outcomes = [
        getattr(client, method)(path, body, format="json").status_code
        for method, path, body in requests_for(someone_elses_draft)
    ]
    listed = client.get("/api/v1/notes/", {"patient": someone_elses_draft.patient_id})

    unauthorised_successes = [code for code in outcomes if code < 300]
    assert unauthorised_successes == []
    # 404 where the role could use the endpoint at all, never a hint that the draft exists.
    assert set(outcomes) <= {403, 404}
    assert listed.json()["results"] == []
    someone_elses_draft.refresh_from_db()
    assert (someone_elses_draft.status, someone_elses_draft.body) == ("draft", "private draft")


def test_the_author_sees_and_signs_their_own_draft(someone_elses_draft):
    client = APIClient()
    client.force_authenticate(someone_elses_draft.author)

    assert client.get(f"/api/v1/notes/{someone_elses_draft.pk}/").status_code == 200
    assert client.post(f"/api/v1/notes/{someone_elses_draft.pk}/sign/").status_code == 200


def test_once_signed_the_note_is_part_of_the_record_for_everyone(someone_elses_draft):
    colleague = APIClient()
    colleague.force_authenticate(UserFactory(role="clinician"))
    author = APIClient()
    author.force_authenticate(someone_elses_draft.author)
    author.post(f"/api/v1/notes/{someone_elses_draft.pk}/sign/")

    response = colleague.get(f"/api/v1/notes/{someone_elses_draft.pk}/")

    assert response.status_code == 200
    assert response.json()["body"] == "private draft"


@pytest.mark.parametrize("role", ["clinician", "reception"])
def test_only_practice_admins_read_the_audit_trail(role):
    client = APIClient()
    client.force_authenticate(UserFactory(role=role))

    assert client.get("/api/v1/audit-events/").status_code == 403
