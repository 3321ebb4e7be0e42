from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "occurred_at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "patient",
        "outcome",
    ]
    list_filter = ["action", "outcome", "object_type"]
    list_select_related = ["actor", "patient"]
    search_fields = ["=object_id", "=request_id", "actor__email"]
    raw_id_fields = ["actor", "token", "patient"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False

    # The trail is evidence: nobody adds, edits or deletes it, superusers included.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
