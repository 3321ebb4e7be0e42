"""Staff accounts: invitations, roles and the second-factor rule."""

from allauth.core import context as allauth_context
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import auth_cache
from accounts.access_audit import audited_by_caller
from accounts.models import ApiToken, User
from accounts.roles import PRACTICE_ADMIN, ROLE_PERMISSIONS
from audit.models import AuditEvent
from audit.services import audit_account
from nexus.errors import Conflict, DomainError, PermissionDenied, ValidationFailed

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
    with audited_by_caller():  # the invitation event below names the role
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


# --- Practice admins manage staff accounts (the staff pages under /setup/users/) -------


class AccountRuleBroken(Conflict):
    code = "account_rule"


def user_role(user: User) -> str | None:
    """The user's role (one group each); uses prefetched groups when there are some."""
    names = sorted(g.name for g in user.groups.all() if g.name in ROLE_PERMISSIONS)
    return names[0] if names else None


def _may_manage(*, by: User | None, user: User) -> None:
    # A superuser's account is managed in the admin, by superusers: otherwise a practice
    # admin could lock one out, or take over one by resetting its second factor.
    if user.is_superuser and not (by is None or by.is_superuser):
        raise PermissionDenied("Only a superuser can change a superuser's account.")


def _keep_a_practice_admin(user: User) -> None:
    """Refuse to leave the practice without an active practice admin. The rows are locked
    so two admins demoting each other at the same moment cannot both succeed."""
    admins = list(
        User.objects.select_for_update()
        .filter(groups__name=PRACTICE_ADMIN, is_active=True)
        .values_list("pk", flat=True)
    )
    if user.pk in admins and len(admins) <= 1:
        raise AccountRuleBroken(
            "This is the practice's last active practice admin; make someone else a "
            "practice admin first."
        )


def user_sessions_end(*, user: User) -> None:
    """Sign the user out everywhere (every browser), and forget their cached API tokens so
    a role change or deactivation applies to them at once too."""
    User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
    user.refresh_from_db(fields=["session_epoch"])
    # The cached user still carries the old epoch, whose hash the old sessions match.
    auth_cache.forget(user.pk)
    keys = [ApiToken.cache_key(h) for h in user.api_tokens.values_list("key_hash", flat=True)]
    # Now, and again after commit in case a request re-cached the old state in between.
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def _revoke_tokens_if_mfa_unmet(*, request: HttpRequest | None, user: User) -> int:
    """A bearer token skips the second factor, so someone who must have one and has none
    holds no working token (issue 12 item 10)."""
    if not mfa_required(user) or mfa_enrolled(user):
        return 0
    tokens = list(user.api_tokens.filter(revoked_at__isnull=True))
    for token in tokens:
        token.revoke()
        audit_account(
            request=request,
            action=AuditEvent.Action.TOKEN_REVOKE,
            obj=token,
            detail={"user": user.pk, "reason": "owner_mfa_missing"},
        )
    return len(tokens)


@transaction.atomic
def user_role_change(*, request: HttpRequest, user: User, role: str, by: User) -> None:
    if role not in ROLE_PERMISSIONS:
        raise ValidationFailed(f"Unknown role {role!r}.", field="role")
    _may_manage(by=by, user=user)
    if user.pk == by.pk:
        raise AccountRuleBroken("You cannot change your own role; ask another practice admin.")
    before = user_access(user)
    if before["roles"] == [role]:
        return
    if role != PRACTICE_ADMIN:
        _keep_a_practice_admin(user)
    with audited_by_caller():
        user.groups.set([Group.objects.get(name=role)])
    # Sessions remember that they met the second-factor rule; a new role may need one.
    user_sessions_end(user=user)
    audit_account(
        request=request,
        action=AuditEvent.Action.ROLE_CHANGE,
        obj=user,
        detail={"before": before, "after": user_access(user)},
    )
    _revoke_tokens_if_mfa_unmet(request=request, user=user)


@transaction.atomic
def user_deactivate(*, request: HttpRequest, user: User, by: User) -> None:
    """The person can no longer sign in or use their API tokens; nothing is deleted, so
    their name stays on what they did."""
    _may_manage(by=by, user=user)
    if user.pk == by.pk:
        raise AccountRuleBroken("You cannot deactivate your own account.")
    if not user.is_active:
        return
    _keep_a_practice_admin(user)
    before = user_access(user)
    user.is_active = False
    with audited_by_caller():
        user.save(update_fields=["is_active"])
    user_sessions_end(user=user)
    audit_account(
        request=request,
        action=AuditEvent.Action.ROLE_CHANGE,
        obj=user,
        detail={"before": before, "after": user_access(user)},
    )


@transaction.atomic
def user_reactivate(*, request: HttpRequest, user: User, by: User) -> None:
    _may_manage(by=by, user=user)
    if user.is_active:
        return
    before = user_access(user)
    user.is_active = True
    with audited_by_caller():
        user.save(update_fields=["is_active"])
    audit_account(
        request=request,
        action=AuditEvent.Action.ROLE_CHANGE,
        obj=user,
        detail={"before": before, "after": user_access(user)},
    )


@transaction.atomic
def user_mfa_reset(*, request: HttpRequest, user: User, by: User) -> None:
    """For a lost phone: remove the user's authenticator app and recovery codes. They are
    signed out everywhere and set up a new app at their next sign-in if their role needs
    one; until then their API tokens are revoked if their role needs one."""
    _may_manage(by=by, user=user)
    if user.pk == by.pk:
        raise AccountRuleBroken(
            "Reset your own second factor from your account page, or ask another practice admin."
        )
    factors = sorted(Authenticator.objects.filter(user=user).values_list("type", flat=True))
    if not factors:
        raise AccountRuleBroken("This person has no second factor to reset.")
    Authenticator.objects.filter(user=user).delete()
    user_sessions_end(user=user)
    audit_account(
        request=request,
        action=AuditEvent.Action.MFA_CHANGE,
        obj=user,
        detail={"change": "reset", "factors": factors},
    )
    _revoke_tokens_if_mfa_unmet(request=request, user=user)


# --- API tokens -----------------------------------------------------------------------

ALL_RESOURCES = "*"


def api_scope_resources() -> list[str]:
    """The resources the API's views name for token scopes."""
    from nexus.urls import router  # the URLconf imports the API views, which import this

    return sorted(
        {r for _, viewset, _ in router.registry if (r := getattr(viewset, "scope_resource", None))}
    )


def scopes_validate(scopes: list[str]) -> list[str]:
    if not scopes:
        raise ValidationFailed("Choose at least one scope.", field="scopes")
    known = {ALL_RESOURCES, *api_scope_resources()}
    for scope in scopes:
        resource, _, action = scope.partition(":")
        if resource not in known or action not in {"read", "write"}:
            raise ValidationFailed(
                f"Bad scope {scope!r}: use <resource>:read or <resource>:write, with one of "
                f"{', '.join(sorted(known))}.",
                field="scopes",
            )
    return sorted(set(scopes))


@transaction.atomic
def token_issue(
    *,
    request: HttpRequest | None,
    user: User,
    name: str,
    scopes: list[str],
    by: User | None,
    via: str,
) -> tuple[ApiToken, str]:
    """Issue a token acting as `user`; returns it with the key, which is shown once.

    `by` is the practice admin issuing it (None for `manage.py issue_api_token`, run by
    whoever operates the server). The token's holder acts as `user`, so a practice admin
    may only issue tokens for accounts that can do no more than they can themselves (no
    superusers, no clinicians' note access), and never for someone who must use a second
    factor and has none: the token would bypass it (issue 12 item 10)."""
    scopes = scopes_validate(scopes)
    name = name.strip()
    if not name:
        raise ValidationFailed("Give the token a name that says who uses it.", field="name")
    if not user.is_active:
        raise ValidationFailed("This account is deactivated.", field="user")
    if by is not None:
        _may_manage(by=by, user=user)
        if not by.is_superuser and not user.get_all_permissions() <= by.get_all_permissions():
            raise PermissionDenied(
                "A token acts as its owner, and this person may do things you may not. "
                "Issue it for an account with your access or less (for example reception).",
            )
    if mfa_required(user) and not mfa_enrolled(user):
        raise ValidationFailed(
            f"{user.get_full_name()} must set up two-factor authentication before a token "
            "can be issued for them: a token would let them skip it.",
            field="user",
        )
    token, raw = ApiToken.issue(user=user, name=name, scopes=scopes)
    audit_account(
        request=request,
        action=AuditEvent.Action.TOKEN_ISSUE,
        obj=token,
        detail={"user": user.pk, "scopes": token.scopes, "via": via},
    )
    return token, raw


@transaction.atomic
def token_revoke(*, request: HttpRequest | None, token: ApiToken, by: User | None) -> None:
    if by is not None:
        _may_manage(by=by, user=token.user)
    if token.revoked_at is not None:
        return
    token.revoke()
    audit_account(
        request=request,
        action=AuditEvent.Action.TOKEN_REVOKE,
        obj=token,
        detail={"user": token.user_id},
    )
