from django.urls import path

from accounts import views

urlpatterns = [
    path(
        "invitation/<str:uidb64>/<str:token>/",
        views.invitation_accept,
        name="invitation_accept",
    ),
]
