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
        "patient_ref",
        "outcome",
    ]
    list_filter = ["action", "outcome", "object_type"]
    list_select_related = ["actor"]
    # The trail says which patient by id, never by name: showing names here would be a
    # read of patient data that nothing records (the staff audit pages name them, and
    # record that they did).
    exclude = ["patient"]
    readonly_fields = ["patient_ref"]
    search_fields = ["=object_id", "=request_id", "actor__email"]
    raw_id_fields = ["actor", "token"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False

    @admin.display(description="patient id", ordering="patient_id")
    def patient_ref(self, event: AuditEvent) -> str | None:
        # A page of several patients lists their ids.
        if event.patient_ids:
            return " ".join(str(p) for p in event.patient_ids)
        return None if event.patient_id is None else str(event.patient_id)

    # The trail is evidence: nobody adds, edits or deletes it, superusers included.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
