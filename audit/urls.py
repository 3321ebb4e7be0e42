from django.urls import path

from audit import views

app_name = "audit"
urlpatterns = [
    path("", views.activity, name="activity"),
    path("patients/<int:patient_id>/", views.patient_access, name="patient_access"),
]
