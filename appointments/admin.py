from django.contrib import admin

from appointments.models import Appointment, AppointmentType
from audit.admin_mixins import AuditedAdminMixin


@admin.register(AppointmentType)
class AppointmentTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "duration_minutes", "price", "bookable_online", "is_active"]
    list_filter = ["bookable_online", "is_active"]
    search_fields = ["name", "xero_item_code"]


@admin.register(Appointment)
class AppointmentAdmin(AuditedAdminMixin):
    list_display = ["start", "end", "clinician", "patient", "clinic", "appointment_type", "status"]
    list_filter = ["status", "source", "clinic", "appointment_type"]
    list_select_related = ["clinician", "patient", "clinic", "appointment_type"]
    date_hierarchy = "start"
    search_fields = ["^patient__family_name", "^clinician__family_name"]
    raw_id_fields = ["patient", "clinician", "created_by"]
    readonly_fields = ["created_at", "updated_at", "created_by"]
    show_full_result_count = False
