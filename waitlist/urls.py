from django.urls import path

from waitlist import views

app_name = "waitlist"
urlpatterns = [
    path("", views.index, name="index"),
    path("board/", views.board, name="board"),
    path("add/", views.add, name="add"),
    path("<int:pk>/remove/", views.remove, name="remove"),
    path("settings/", views.settings_save, name="settings"),
]
