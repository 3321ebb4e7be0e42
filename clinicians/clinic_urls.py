from django.urls import path

from clinicians import views

app_name = "clinics"
urlpatterns = [
    path("", views.clinic_index, name="index"),
    path("new/", views.clinic_edit, name="create"),
    path("<int:pk>/", views.clinic_edit, name="edit"),
    path("<int:pk>/logo/", views.clinic_logo, name="logo"),
]
