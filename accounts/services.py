"""Staff accounts: invitations, roles and the second-factor rule."""

from allauth.core import context as allauth_context
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from accounts.roles import PRACTICE_ADMIN, ROLE_PERMISSIONS
from audit.models import AuditEvent
from audit.services import audit_account
from nexus.errors import DomainError

# Set by the invitation page; lets that browser's first Google sign-in link to the account.
INVITED_USER_SESSION_KEY = "nexus_invited_user"


class InvitationError(DomainError):
    code = "invalid_invitation"


def mfa_required(user: User) -> bool:
    """practice_admin (and superusers) always need a second factor; everyone else only
    when NEXUS_MFA_REQUIRED_FOR_ALL is on."""
    if settings.NEXUS_MFA_REQUIRED_FOR_ALL or user.is_superuser:
        return True
    return user.groups.filter(name=PRACTICE_ADMIN).exists()


def mfa_enrolled(user: User) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def invitation_path(user: User) -> str:
    """The link an invited person opens to set a password or link their Google account.
    It stops working once they have signed in or set a password, or after
    NEXUS_INVITATION_DAYS."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("invitation_accept", kwargs={"uidb64": uid, "token": token})


@transaction.atomic
def user_invite(*, request: HttpRequest, user: User, role: str, invited_by: User) -> User:
    """Save a new staff account (an unsaved User with email and name) without a password,
    give it its role, and email the invitation link."""
    if role not in ROLE_PERMISSIONS:
        raise InvitationError(f"Unknown role {role!r}.", field="role")
    user.email = User.objects.normalize_email(user.email).lower()
    if User.objects.filter(email__iexact=user.email).exists():
        raise InvitationError(
            "Someone with this email address already has an account.", field="email"
        )
    user.set_unusable_password()
    user.save()
    user.groups.add(Group.objects.get(name=role))
    audit_account(
        request=request,
        action=AuditEvent.Action.INVITE,
        obj=user,
        detail={"role": role, "invited_by": invited_by.pk},
    )
    invitation_send(request=request, user=user, invited_by=invited_by)
    return user


def invitation_send(*, request: HttpRequest, user: User, invited_by: User) -> None:
    link = request.build_absolute_uri(invitation_path(user))
    send_mail(
        subject="Your Nexus account",
        message=(
            f"{invited_by.get_full_name()} has invited you to Nexus.\n\n"
            f"Open this link to set a password or sign in with Google:\n{link}\n\n"
            f"The link works once and expires in {settings.NEXUS_INVITATION_DAYS} days."
        ),
        from_email=None,
        recipient_list=[user.email],
    )


def audit_password_change(*, user: User) -> None:
    """A password was set or changed, by its owner or (in the admin, superusers only)
    someone else; outside a request (a management command) there is no actor."""
    request = allauth_context.request
    actor = getattr(request, "user", None)
    if request is None:
        by = "command"
    elif actor is None or not actor.is_authenticated:
        by = "emailed_link"  # an invitation or a password-reset link
    else:
        by = "self" if actor.pk == user.pk else "other"
    audit_account(
        request=request, action=AuditEvent.Action.PASSWORD_CHANGE, obj=user, detail={"by": by}
    )


def user_access(user: User) -> dict[str, object]:
    """What a user may do, as recorded before and after a role or access change."""
    return {
        "roles": sorted(user.groups.values_list("name", flat=True)),
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
    }
