from django.urls import path

from accounts import setup_views

app_name = "setup_users"
urlpatterns = [
    path("", setup_views.user_index, name="index"),
    path("invite/", setup_views.user_invite, name="invite"),
    path("<int:pk>/", setup_views.user_detail, name="detail"),
    path("<int:pk>/role/", setup_views.user_role, name="role"),
    path("<int:pk>/deactivate/", setup_views.user_deactivate, name="deactivate"),
    path("<int:pk>/reactivate/", setup_views.user_reactivate, name="reactivate"),
    path("<int:pk>/reset-mfa/", setup_views.user_mfa_reset, name="mfa_reset"),
    path("<int:pk>/resend-invitation/", setup_views.user_invitation_resend, name="resend"),
]
