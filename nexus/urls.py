from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from appointments.api.series import AppointmentSeriesViewSet
from appointments.api.views import AppointmentTypeViewSet, AppointmentViewSet
from audit.api.views import AuditEventViewSet
from billing.api.views import AppointmentInvoiceViewSet, InvoiceViewSet
from clinicians.api.views import ClinicianViewSet, ClinicViewSet, DisciplineViewSet
from documents.api.views import DocumentViewSet, PatientDocumentViewSet
from integrations.api.views import (
    EmailAccountViewSet,
    MessageViewSet,
    PatientEmailViewSet,
    PatientSmsViewSet,
)
from nexus import health, metrics, views
from nexus.api.schema import SchemaView
from notes.api.views import AiJobViewSet, ClinicalNoteViewSet
from patients.api.views import CoordinatorViewSet, PatientViewSet, ReferrerViewSet
from waitlist.api.views import WaitlistViewSet

# Errors raised before a view runs: JSON under /api/, the styled pages elsewhere.
handler400 = "nexus.api.exceptions.bad_request"
handler403 = "nexus.api.exceptions.permission_denied"
handler404 = "nexus.api.exceptions.page_not_found"
handler500 = "nexus.api.exceptions.server_error"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("clinics", ClinicViewSet)
router.register("disciplines", DisciplineViewSet)
router.register("clinicians", ClinicianViewSet)
router.register("patients", PatientViewSet)
router.register(
    r"patients/(?P<patient_pk>\d+)/documents", PatientDocumentViewSet, basename="patient-documents"
)
router.register("documents", DocumentViewSet)
router.register("referrers", ReferrerViewSet)
router.register("coordinators", CoordinatorViewSet)
router.register("appointment-types", AppointmentTypeViewSet)
router.register("appointments", AppointmentViewSet)
router.register("appointment-series", AppointmentSeriesViewSet)
router.register("waitlist", WaitlistViewSet)
router.register("notes", ClinicalNoteViewSet)
router.register("ai-jobs", AiJobViewSet)
router.register("audit-events", AuditEventViewSet)
router.register("messages", MessageViewSet)
router.register(r"patients/(?P<patient_pk>\d+)/sms", PatientSmsViewSet, basename="patient-sms")
router.register(
    r"patients/(?P<patient_pk>\d+)/emails", PatientEmailViewSet, basename="patient-emails"
)
router.register("email-accounts", EmailAccountViewSet, basename="email-accounts")
router.register("invoices", InvoiceViewSet)
router.register(
    r"appointments/(?P<appointment_pk>\d+)/invoice",
    AppointmentInvoiceViewSet,
    basename="appointment-invoice",
)

urlpatterns = [
    # First: Django tries the patterns in order on every request, and the API's answers are
    # the hot ones (issue 16). No other pattern starts with api/v1/, so the order is free.
    path("api/v1/", include(router.urls)),
    path("", views.home, name="home"),
    path("healthz/", health.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("audit/", include("audit.urls")),
    path("patients/", include("patients.urls")),
    path("patients/", include("documents.urls")),  # the chart's documents panel
    path("calendar/", include("appointments.urls")),
    path("notes/", include("notes.urls")),
    path("setup/clinicians/", include("clinicians.urls")),
    path("setup/clinics/", include("clinicians.clinic_urls")),
    path("setup/appointment-types/", include("appointments.type_urls")),
    path("setup/users/", include("accounts.user_urls")),
    path("setup/tokens/", include("accounts.token_urls")),
    path("setup/imports/", include("integrations.import_urls")),
    path("book/", include("booking.urls")),
    path("messages/", include("integrations.urls")),
    path("webhooks/sms/", include("integrations.smsbroadcast.urls")),
    path("xero/", include("integrations.xero.urls")),
    path("gmail/", include("integrations.gmail.urls")),
    path("invoices/", include("billing.urls")),
    path("online-bookings/", include("booking.review_urls")),
    path("waitlist/", include("waitlist.urls")),
    path("metrics", metrics.metrics, name="metrics"),
    path("readyz/", health.readyz, name="readyz"),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path(
        "api/docs/",
        # The split view serves its start-up script as a file, so the CSP needs no inline JS.
        login_required(SpectacularSwaggerSplitView.as_view(url_name="schema")),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
]
