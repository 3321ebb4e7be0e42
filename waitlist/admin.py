from django.contrib import admin

from audit.admin_mixins import AuditedAdminMixin
from waitlist.models import WaitlistEntry, WaitlistSettings


@admin.register(WaitlistSettings)
class WaitlistSettingsAdmin(admin.ModelAdmin):
    list_display = ["offer_mode", "offer_batch", "offer_expiry_minutes"]


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(AuditedAdminMixin):
    list_display = ["id", "clinician", "discipline", "urgency", "status", "created_at"]
    list_filter = ["status", "urgency"]
    raw_id_fields = ["patient", "clinician", "created_by"]
    readonly_fields = ["created_at", "updated_at", "created_by"]
