from django.urls import path

from integrations.xero import views

app_name = "xero"
urlpatterns = [
    path("", views.xero_settings, name="settings"),
    path("connect/", views.xero_connect_start, name="connect"),
    path("oauth/callback/", views.xero_callback, name="callback"),
    path("choose/", views.xero_choose, name="choose"),
    path("disconnect/", views.xero_disconnect_view, name="disconnect"),
    path("sync/", views.xero_queue, name="queue"),
    path("sync/<int:message_id>/retry/", views.xero_retry, name="retry"),
]
