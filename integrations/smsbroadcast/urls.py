from django.urls import path

from integrations.smsbroadcast import views

app_name = "smsbroadcast"
urlpatterns = [
    path("inbound/<str:secret>/", views.inbound, name="inbound"),
    path("status/<str:secret>/", views.status, name="status"),
]
