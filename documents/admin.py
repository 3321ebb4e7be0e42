from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.admin_mixins import AuditedAdminMixin
from documents.models import Document, QuarantinedUpload


@admin.register(Document)
class DocumentAdmin(AuditedAdminMixin):
    """Metadata only. Files arrive through the upload service (type sniffing, scanning,
    hashing) and leave through the audited download, so the admin neither adds nor deletes."""

    list_display = ["patient", "category", "original_name", "size", "uploaded_at", "deleted_at"]
    list_filter = ["category"]
    list_select_related = ["patient"]
    search_fields = ["^patient__family_name", "^original_name", "legacy_id"]
    date_hierarchy = "uploaded_at"
    fields = [
        "patient",
        "category",
        "description",
        "legacy_id",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "uploaded_by",
        "uploaded_at",
        "deleted_at",
        "deleted_by",
        "purged_at",
    ]
    readonly_fields = [
        "patient",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "uploaded_by",
        "uploaded_at",
        "deleted_at",
        "deleted_by",
        "purged_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Document | None = None) -> bool:
        # Deleting is soft and goes through the service, which keeps the object for purging.
        return False


@admin.register(QuarantinedUpload)
class QuarantinedUploadAdmin(AuditedAdminMixin):
    """Uploads the virus scanner flagged: for review only, never edited here."""

    list_display = ["id", "patient_id", "signature", "content_type", "size", "detected_at"]
    list_filter = ["signature"]
    readonly_fields = [f.name for f in QuarantinedUpload._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
