from django.contrib import admin

from patients.models import Coordinator, Patient, Referrer


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
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


@admin.register(Referrer)
class ReferrerAdmin(admin.ModelAdmin):
    list_display = ["name", "practice_name", "provider_number", "phone"]
    search_fields = ["name", "practice_name", "provider_number"]


@admin.register(Coordinator)
class CoordinatorAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation", "phone", "email"]
    search_fields = ["name", "organisation"]
