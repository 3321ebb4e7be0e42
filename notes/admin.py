from django.contrib import admin
from django.http import HttpRequest

from audit.admin_mixins import AuditedAdminMixin
from notes.models import AiJob, AiSettings, ClinicalNote


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


@admin.register(AiSettings)
class AiSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "drafting_enabled", "agreement_signed", "retention"]
    fields = ["agreement_signed", "retention", "data_region", "app8_basis", "drafting_enabled"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not AiSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: AiSettings | None = None) -> bool:
        return False


@admin.register(AiJob)
class AiJobAdmin(AuditedAdminMixin):
    """What each AI request cost and how it ended; read-only. The shorthand is clinical
    text and is not shown here."""

    list_display = [
        "id",
        "format",
        "status",
        "model",
        "requested_by",
        "cost_microdollars",
        "created_at",
    ]
    list_filter = ["status", "format"]
    list_select_related = ["requested_by"]
    date_hierarchy = "created_at"
    exclude = ["shorthand", "body_before"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AiJob | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AiJob | None = None) -> bool:
        return False
