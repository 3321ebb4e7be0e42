from django.urls import path

from patients import views

app_name = "patients"
urlpatterns = [
    path("", views.patient_index, name="index"),
    path("pick/", views.patient_pick, name="pick"),
    path("new/", views.patient_create, name="create"),
    path("<int:patient_id>/edit/", views.patient_edit, name="edit"),
    path("<int:patient_id>/", views.patient_chart, name="chart"),
]
