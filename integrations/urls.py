from django.urls import path

from integrations import views

app_name = "integrations"
urlpatterns = [
    path("", views.message_index, name="messages"),
    path("<int:message_id>/retry/", views.message_retry_view, name="retry"),
    path("<int:message_id>/handled/", views.message_handled_view, name="handled"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:inbound_id>/done/", views.inbox_done, name="inbox_done"),
    path("patient/<int:patient_id>/", views.patient_sms, name="patient_sms"),
    path("appointment/<int:appointment_id>/", views.appointment_sms, name="appointment_sms"),
    path("templates/", views.templates_edit, name="templates"),
]
