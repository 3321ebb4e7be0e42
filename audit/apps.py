from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        import nexus.checks  # noqa: F401  (registers the production settings checks)

        # Django announces sign-ins only through these signals, whichever login view or
        # backend (admin, allauth) handled them.
        user_logged_in.connect(_logged_in, dispatch_uid="audit.logged_in")
        user_login_failed.connect(_login_failed, dispatch_uid="audit.login_failed")
        user_logged_out.connect(_logged_out, dispatch_uid="audit.logged_out")

        from allauth.mfa import signals as mfa

        for signal, change in [
            (mfa.authenticator_added, "added"),
            (mfa.authenticator_removed, "removed"),
            (mfa.authenticator_reset, "reset"),
        ]:
            signal.connect(_mfa_changed(change), dispatch_uid=f"audit.mfa_{change}", weak=False)
        mfa.authentication_failed.connect(_mfa_failed, dispatch_uid="audit.mfa_failed")

        from axes.signals import user_locked_out

        user_locked_out.connect(_locked_out, dispatch_uid="audit.locked_out")


def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from audit.services import audit_login
    from nexus.metrics import SIGN_INS

    SIGN_INS.inc("success")
    if request is not None:
        audit_login(request=request, user_id=user.pk, succeeded=True)


def _login_failed(sender: Any, credentials: Any, request: Any = None, **kwargs: Any) -> None:
    from audit.services import audit_login
    from nexus.metrics import SIGN_INS

    SIGN_INS.inc("failure")
    if request is not None:
        user_id = _account_for(request, credentials)
        audit_login(
            request=request,
            user_id=user_id,
            succeeded=False,
            detail={"method": "password", "account": "known" if user_id else "unknown"},
        )


def _account_for(request: Any, credentials: Any) -> int | None:
    """The account a failed attempt was for, by the address typed; nothing typed is kept."""
    from accounts.adapters import axes_username
    from accounts.models import User

    login = axes_username(request, credentials if isinstance(credentials, dict) else None)
    if not login:
        return None
    return User.objects.filter(email__iexact=login).values_list("pk", flat=True).first()


def _locked_out(sender: Any, request: Any = None, username: Any = None, **kwargs: Any) -> None:
    """axes locked an account (or refused an attempt while it is locked): an event naming
    the account, if there is one with that address."""
    from accounts.models import User
    from audit.models import AuditEvent
    from audit.services import Target, audit_record

    if request is None:
        return
    user_id = (
        User.objects.filter(email__iexact=username).values_list("pk", flat=True).first()
        if isinstance(username, str) and username
        else None
    )
    audit_record(
        request=request,
        action=AuditEvent.Action.LOCKOUT,
        targets=[Target("accounts.user", str(user_id or ""), None)],
        outcome=AuditEvent.Outcome.DENIED,
        detail={"account": "known" if user_id else "unknown"},
    )


def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from audit.models import AuditEvent
    from audit.services import audit_account

    if request is not None and user is not None:
        audit_account(request=request, action=AuditEvent.Action.LOGOUT, obj=user)


def _mfa_changed(change: str) -> Any:
    def receiver(sender: Any, request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
        from audit.models import AuditEvent
        from audit.services import audit_account

        audit_account(
            request=request,
            action=AuditEvent.Action.MFA_CHANGE,
            obj=user,
            detail={"change": change, "factor": authenticator.type},
        )

    return receiver


def _mfa_failed(sender: Any, request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
    from audit.services import audit_login

    if request is not None:
        audit_login(
            request=request,
            user_id=user.pk,
            succeeded=False,
            detail={"method": authenticator.type, "reason": "incorrect_code"},
        )
