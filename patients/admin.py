from django.contrib import admin
from django.http import HttpRequest

from audit.admin_mixins import AuditedAdminMixin
from patients.models import Coordinator, Patient, Referrer


@admin.register(Patient)
class PatientAdmin(AuditedAdminMixin):
    audit_patient_attr = "pk"
    list_display = [
        "family_name",
        "given_name",
        "date_of_birth",
        "phone",
        "home_clinic",
        "archived",
    ]
    list_filter = ["archived", "funding_type", "home_clinic", "sex"]
    list_select_related = ["home_clinic"]
    # Prefix searches match the patients search indexes on PostgreSQL.
    search_fields = ["^family_name", "^given_name", "^phone", "^medicare_number", "^email"]
    raw_id_fields = ["referrer", "coordinator", "created_by"]
    readonly_fields = ["created_at", "updated_at", "created_by"]
    show_full_result_count = False

    def has_delete_permission(self, request: HttpRequest, obj: Patient | None = None) -> bool:
        # Patients are archived, never deleted: the record must outlive the relationship.
        return False


@admin.register(Referrer)
class ReferrerAdmin(admin.ModelAdmin):
    list_display = ["name", "practice_name", "provider_number", "phone"]
    search_fields = ["name", "practice_name", "provider_number"]


@admin.register(Coordinator)
class CoordinatorAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation", "phone", "email"]
    search_fields = ["name", "organisation"]
