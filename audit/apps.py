from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in, user_login_failed


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # Django announces sign-ins only through these signals, whichever login view or
        # backend (admin, allauth) handled them.
        user_logged_in.connect(_logged_in, dispatch_uid="audit.logged_in")
        user_login_failed.connect(_login_failed, dispatch_uid="audit.login_failed")


def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from audit.services import audit_login

    if request is not None:
        audit_login(request=request, user_id=user.pk, succeeded=True)


def _login_failed(sender: Any, credentials: Any, request: Any = None, **kwargs: Any) -> None:
    from audit.services import audit_login

    if request is not None:
        audit_login(request=request, user_id=None, succeeded=False)
