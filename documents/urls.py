from django.urls import path

from documents import views

app_name = "documents"
urlpatterns = [
    path("<int:patient_id>/documents/", views.documents_panel, name="panel"),
]
