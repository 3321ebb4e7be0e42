from django.db.models import Q, QuerySet

from accounts.models import User
from notes.models import ClinicalNote


def note_list(*, user: User) -> QuerySet[ClinicalNote]:
    """Signed notes, and the user's own drafts. A draft is unfinished work: nobody else
    sees, edits or signs it, and to them it does not exist (404, not 403)."""
    return ClinicalNote.objects.select_related("author").filter(
        Q(status=ClinicalNote.Status.SIGNED) | Q(author=user)
    )


def user_can_read_note_body(user: User) -> bool:
    # Reception books and bills; it never needs what a clinician wrote.
    return user.has_perm("notes.view_note_body")
