from django.urls import path

from clinicians import views

app_name = "clinicians"
urlpatterns = [
    path("", views.clinician_index, name="index"),
    path("new/", views.clinician_edit, name="create"),
    path("<int:pk>/", views.clinician_edit, name="edit"),
    path("<int:pk>/time-off/", views.time_off_add, name="time_off_add"),
    path("time-off/<int:pk>/delete/", views.time_off_delete, name="time_off_delete"),
]
