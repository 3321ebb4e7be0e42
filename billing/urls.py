from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("", views.invoice_index, name="index"),
    path("<int:invoice_id>/pdf/", views.invoice_download, name="pdf"),
    path("patient/<int:patient_id>/", views.patient_invoices, name="patient"),
    path("appointment/<int:appointment_id>/", views.appointment_invoice, name="appointment"),
]
