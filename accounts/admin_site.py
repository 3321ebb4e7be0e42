"""The Django admin site, for superusers only.

Practice admins run the practice from the staff pages (/setup/...), where services hold the
rules (roles, the last practice admin, the second-factor rule for tokens) and every change
is audited. The admin site bypasses those rules by design (it edits rows), so it is only
for superusers: any other signed-in user gets 403 on every admin URL, the sign-in page
included, and an anonymous visitor is sent to the normal sign-in (lockout and MFA apply).
"""

from collections.abc import Callable
from typing import Any

from allauth.account.decorators import secure_admin_login
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def admin_allowed(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_superuser)


class NexusAdminSite(AdminSite):
    site_header = "Nexus administration"
    site_title = "Nexus"

    def has_permission(self, request: HttpRequest) -> bool:
        return admin_allowed(request.user)

    def admin_view(self, view: Callable[..., Any], cacheable: bool = False) -> Any:
        wrapped = super().admin_view(view, cacheable)

        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            # Django would send a signed-in non-superuser to the admin's sign-in form,
            # which then names the account; a plain refusal says less and ends there.
            if request.user.is_authenticated and not admin_allowed(request.user):
                raise PermissionDenied
            return wrapped(request, *args, **kwargs)

        return inner

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if request.user.is_authenticated and not admin_allowed(request.user):
            raise PermissionDenied
        # Anonymous visitors sign in through allauth, so they meet the same lockout and MFA.
        return secure_admin_login(super().login)(request, extra_context)
