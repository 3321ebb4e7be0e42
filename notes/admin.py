from django.contrib import admin
from django.http import HttpRequest

from audit.admin_mixins import AuditedAdminMixin
from notes.models import ClinicalNote


@admin.register(ClinicalNote)
class ClinicalNoteAdmin(AuditedAdminMixin):
    list_display = ["patient", "kind", "author", "status", "created_at", "signed_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["patient", "author"]
    search_fields = ["^patient__family_name", "title"]
    raw_id_fields = ["patient", "appointment", "author", "signed_by", "addendum_to"]
    readonly_fields = ["status", "signed_at", "signed_by", "content_sha256", "created_at"]
    date_hierarchy = "created_at"

    def has_change_permission(self, request: HttpRequest, obj: ClinicalNote | None = None) -> bool:
        # Signed notes are records; corrections are addenda, never edits.
        if obj is not None and obj.status == ClinicalNote.Status.SIGNED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: ClinicalNote | None = None) -> bool:
        return False
