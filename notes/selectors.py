from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import User
from documents.models import Document
from documents.selectors import document_list
from notes.models import ClinicalNote


def note_list(*, user: User) -> QuerySet[ClinicalNote]:
    """Signed notes, and the user's own drafts. A draft is unfinished work: nobody else
    sees, edits or signs it, and to them it does not exist (404, not 403)."""
    return ClinicalNote.objects.select_related("author").filter(
        Q(status=ClinicalNote.Status.SIGNED) | Q(author=user)
    )


def drafts_exist() -> Exists:
    """Whether the outer query's patient has unsigned notes, anyone's (an annotation)."""
    return Exists(
        ClinicalNote.objects.filter(patient=OuterRef("pk"), status=ClinicalNote.Status.DRAFT)
    )


def user_can_read_note_body(user: User) -> bool:
    # Reception books and bills; it never needs what a clinician wrote.
    return user.has_perm("notes.view_note_body")


def note_addenda(*, user: User, note: ClinicalNote) -> list[ClinicalNote]:
    """The corrections to a signed note that this user may see, in the order they joined the
    record: signed ones by signing time, then the user's own unsigned drafts."""
    addenda = note_list(user=user).filter(addendum_to=note).select_related("signed_by")
    signed = addenda.filter(status=ClinicalNote.Status.SIGNED).order_by("signed_at", "id")
    drafts = addenda.filter(status=ClinicalNote.Status.DRAFT).order_by("created_at", "id")
    return [*signed, *drafts]


def note_drafts(*, author: User) -> QuerySet[ClinicalNote]:
    """The author's unsigned notes, oldest first, with just what a list of them shows."""
    return (
        ClinicalNote.objects.filter(author=author, status=ClinicalNote.Status.DRAFT)
        .select_related("patient")
        .only("id", "kind", "title", "created_at", "patient__given_name", "patient__family_name")
        .order_by("created_at")
    )


def note_sources_for_ai(*, user: User, note: ClinicalNote, limit: int = 30) -> list[ClinicalNote]:
    """Signed notes of the draft's patient that an AI draft may draw on, newest first."""
    return list(
        note_list(user=user)
        .filter(patient_id=note.patient_id, status=ClinicalNote.Status.SIGNED)
        .select_related("addendum_to")
        .order_by("-signed_at", "-id")[:limit]
    )


def documents_for_ai(*, user: User, note: ClinicalNote, limit: int = 30) -> list[Document]:
    """Described live documents of the draft's patient that this user may see, newest
    first: an AI draft may quote their descriptions (never the files)."""
    return list(
        document_list(user=user)
        .filter(patient_id=note.patient_id)
        .exclude(description="")
        .only("id", "patient_id", "category", "description", "uploaded_at")
        .order_by("-uploaded_at", "-id")[:limit]
    )
