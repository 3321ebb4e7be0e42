from django.urls import path

from integrations.gmail import views

app_name = "gmail"
urlpatterns = [
    path("", views.gmail_settings, name="settings"),
    path("connect/", views.gmail_connect_start, name="connect"),
    path("oauth/callback/", views.gmail_callback, name="callback"),
    path("<int:account_id>/disconnect/", views.gmail_disconnect_view, name="disconnect"),
    path("<int:account_id>/defaults/", views.gmail_defaults_view, name="defaults"),
    path("patient/<int:patient_id>/", views.patient_email, name="patient_email"),
]
