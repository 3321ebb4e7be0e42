from django.urls import path

from booking import views

app_name = "booking"
urlpatterns = [
    path("", views.directory, name="directory"),
    path("<int:clinician_id>/", views.clinician_page, name="clinician"),
    path("<int:clinician_id>/details/", views.book, name="book"),
    path("<int:clinician_id>/release/", views.release, name="release"),
    path("verify/", views.verify, name="verify"),
    path("done/<str:token>/", views.done, name="done"),
    # Where the confirmation's link leads: the same page as after booking.
    path("a/<str:token>/", views.done, name="manage"),
    path("cancel/<str:token>/", views.cancel, name="cancel"),
    path("move/<str:token>/", views.reschedule, name="reschedule"),
    path("calendar/<str:token>/appointment.ics", views.calendar_file, name="ics"),
]
