from django.urls import path

from booking import views

app_name = "booking"
urlpatterns = [
    path("", views.directory, name="directory"),
    path("<int:clinician_id>/", views.clinician_page, name="clinician"),
    path("<int:clinician_id>/details/", views.book, name="book"),
    path("verify/", views.verify, name="verify"),
    path("done/<str:token>/", views.done, name="done"),
    path("cancel/<str:token>/", views.cancel, name="cancel"),
]
