from django.urls import path

from appointments import sheet, views

app_name = "appointments"
urlpatterns = [
    path("", views.calendar, name="calendar"),
    path("book/", views.book, name="book"),
    path("sheet/", sheet.day_sheet, name="day_sheet"),
    path("appointments/<int:pk>/", views.appointment_panel, name="panel"),
    path("appointments/<int:pk>/status/", views.appointment_status, name="status"),
    path("appointments/<int:pk>/undo/", views.appointment_undo, name="undo"),
    path("appointments/<int:pk>/cancel/", views.appointment_cancel_view, name="cancel"),
    path("appointments/<int:pk>/move/", views.appointment_move, name="move"),
]
