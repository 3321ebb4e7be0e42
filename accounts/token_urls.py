from django.urls import path

from accounts import setup_views

app_name = "setup_tokens"
urlpatterns = [
    path("", setup_views.token_index, name="index"),
    path("new/", setup_views.token_new, name="new"),
    path("<int:pk>/revoke/", setup_views.token_revoke, name="revoke"),
]
