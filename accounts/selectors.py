"""Reads for the staff account pages: one query per list however many rows."""

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.db.models import Exists, F, OuterRef, QuerySet

from accounts.models import ApiToken, User
from accounts.roles import PRACTICE_ADMIN
from accounts.services import user_role


def _has_totp(user_ref: str) -> Exists:
    return Exists(
        Authenticator.objects.filter(user=OuterRef(user_ref), type=Authenticator.Type.TOTP)
    )


def user_list() -> QuerySet[User]:
    """Everyone, active first, each with `has_totp` and their role (prefetched groups)."""
    return (
        User.objects.prefetch_related("groups")
        .annotate(has_totp=_has_totp("pk"))
        .order_by("-is_active", "full_name", "email")
    )


def token_list() -> QuerySet[ApiToken]:
    """Every token, working ones first, with its owner, their role and `owner_has_totp`."""
    return (
        ApiToken.objects.select_related("user")
        .prefetch_related("user__groups")
        .annotate(owner_has_totp=_has_totp("user_id"))
        .order_by(F("revoked_at").asc(nulls_first=True), "-created_at")
    )


def mfa_state(user: User, *, has_totp: bool) -> str:
    """ "enrolled", "missing" (their role needs one) or "optional", from prefetched groups:
    the same rule as accounts.services.mfa_required, without a query per row."""
    if has_totp:
        return "enrolled"
    required = (
        settings.NEXUS_MFA_REQUIRED_FOR_ALL
        or user.is_superuser
        or user_role(user) == PRACTICE_ADMIN
    )
    return "missing" if required else "optional"
