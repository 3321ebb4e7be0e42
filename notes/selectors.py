from django.db.models import QuerySet

from accounts.models import User
from notes.models import ClinicalNote


def note_list(*, user: User) -> QuerySet[ClinicalNote]:
    return ClinicalNote.objects.select_related("author")


def user_can_read_note_body(user: User) -> bool:
    # Reception books and bills; it never needs what a clinician wrote.
    return user.has_perm("notes.view_note_body")
