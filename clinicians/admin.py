from django.contrib import admin

from clinicians.models import Clinic, Clinician, Discipline, TimeOff, WorkingHours


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "timezone", "phone", "is_active"]
    list_filter = ["is_active", "timezone"]
    search_fields = ["name", "address"]


@admin.register(Discipline)
class DisciplineAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


@admin.register(Clinician)
class ClinicianAdmin(admin.ModelAdmin):
    list_display = [
        "display_name",
        "provider_number",
        "accepting_new_patients",
        "listed_publicly",
        "is_active",
    ]
    list_filter = [
        "is_active",
        "accepting_new_patients",
        "listed_publicly",
        "disciplines",
        "clinics",
    ]
    search_fields = ["given_name", "family_name", "provider_number"]
    filter_horizontal = ["disciplines", "clinics"]
    raw_id_fields = ["user"]
    inlines = [WorkingHoursInline]


@admin.register(WorkingHours)
class WorkingHoursAdmin(admin.ModelAdmin):
    list_display = ["clinician", "clinic", "weekday", "start_time", "end_time"]
    list_filter = ["weekday", "clinic"]
    list_select_related = ["clinician", "clinic"]
    search_fields = ["clinician__given_name", "clinician__family_name"]


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ["clinician", "clinic", "start", "end", "reason"]
    list_filter = ["clinic"]
    list_select_related = ["clinician", "clinic"]
    date_hierarchy = "start"
    search_fields = ["clinician__given_name", "clinician__family_name", "reason"]
