from django.urls import path

from appointments import type_views

app_name = "appointment_types"
urlpatterns = [
    path("", type_views.type_index, name="index"),
    path("new/", type_views.type_edit, name="create"),
    path("<int:pk>/", type_views.type_edit, name="edit"),
]
