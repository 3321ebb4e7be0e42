"""Practice setup for admins: staff accounts and API tokens.

The Django admin is for superusers only; these pages are how a practice admin invites
people, changes roles, deactivates accounts, resets a lost second factor and issues or
revokes API tokens. The rules live in accounts.services and every change is audited there.
Nobody sets another person's password here: invitations and reset links do that.
"""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import RoleForm, TokenIssueForm, UserInviteForm
from accounts.models import ApiToken, User
from audit.models import AuditEvent
from audit.services import audit_account
from nexus.errors import DomainError
from nexus.http import StaffRequest


@require_GET
@login_required
@permission_required("accounts.change_user", raise_exception=True)
def user_index(request: StaffRequest) -> HttpResponse:
    users = list(selectors.user_list())
    for user in users:
        user.role = services.user_role(user)  # type: ignore[attr-defined]
        user.mfa = selectors.mfa_state(user, has_totp=user.has_totp)  # type: ignore[attr-defined]
    return render(request, "accounts/setup/users.html", {"users": users})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(["accounts.add_user", "accounts.change_user"], raise_exception=True)
def user_invite(request: StaffRequest) -> HttpResponse:
    form = UserInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_invite(
                request=request,
                user=form.save(commit=False),
                role=form.cleaned_data["role"],
                invited_by=request.user,
            )
        except DomainError as error:
            form.add_error(error.field, error.detail)
        else:
            messages.success(request, "Invitation sent. The link works once, for a few days.")
            return redirect("setup_users:index")
    status = 400 if form.is_bound else 200
    return render(request, "accounts/setup/invite.html", {"form": form}, status=status)


@require_GET
@login_required
@permission_required("accounts.change_user", raise_exception=True)
def user_detail(request: StaffRequest, pk: int) -> HttpResponse:
    return _detail(request, get_object_or_404(User, pk=pk))


def _detail(
    request: StaffRequest, person: User, *, form: RoleForm | None = None, status: int = 200
) -> HttpResponse:
    has_totp = services.mfa_enrolled(person)
    context = {
        "person": person,
        "role": services.user_role(person),
        "mfa": selectors.mfa_state(person, has_totp=has_totp),
        "pending": person.is_active and person.last_login is None,
        "is_self": person.pk == request.user.pk,
        "form": form or RoleForm(initial={"role": services.user_role(person)}),
        "tokens": person.api_tokens.filter(revoked_at__isnull=True),
    }
    return render(request, "accounts/setup/user.html", context, status=status)


def _refused(request: StaffRequest, person: User, error: DomainError) -> HttpResponse:
    messages.error(request, error.detail)
    person.refresh_from_db()
    return _detail(request, person, status=error.status_code)


@require_POST
@login_required
@permission_required("accounts.change_user", raise_exception=True)
def user_role(request: StaffRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User, pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _detail(request, person, form=form, status=400)
    try:
        services.user_role_change(
            request=request, user=person, role=form.cleaned_data["role"], by=request.user
        )
    except DomainError as error:
        return _refused(request, person, error)
    messages.success(request, "Role changed. They have been signed out everywhere.")
    return redirect("setup_users:detail", person.pk)


def _account_change(
    request: StaffRequest, pk: int, change: Callable[..., object], *, done: str
) -> HttpResponse:
    """Deactivate, reactivate or reset one account's second factor: the service decides."""
    person = get_object_or_404(User, pk=pk)
    try:
        change(request=request, user=person, by=request.user)
    except DomainError as error:
        return _refused(request, person, error)
    messages.success(request, done)
    return redirect("setup_users:detail", person.pk)


@require_POST
@login_required
@permission_required("accounts.change_user", raise_exception=True)
def user_deactivate(request: StaffRequest, pk: int) -> HttpResponse:
    return _account_change(
        request,
        pk,
        services.user_deactivate,
        done="Account deactivated: signed out, and API tokens stopped.",
    )


@require_POST
@login_required
@permission_required("accounts.change_user", raise_exception=True)
def user_reactivate(request: StaffRequest, pk: int) -> HttpResponse:
    return _account_change(request, pk, services.user_reactivate, done="Account reactivated.")


@require_POST
@login_required
@permission_required("accounts.change_user", raise_exception=True)
def user_mfa_reset(request: StaffRequest, pk: int) -> HttpResponse:
    return _account_change(
        request,
        pk,
        services.user_mfa_reset,
        done="Second factor removed. They set up a new one when they next sign in.",
    )


@require_POST
@login_required
@permission_required(["accounts.add_user", "accounts.change_user"], raise_exception=True)
def user_invitation_resend(request: StaffRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User, pk=pk, is_active=True, last_login__isnull=True)
    services.invitation_send(request=request, user=person, invited_by=request.user)
    audit_account(
        request=request,
        action=AuditEvent.Action.INVITE,
        obj=person,
        detail={"invited_by": request.user.pk, "resent": True},
    )
    messages.success(request, "A new invitation link has been emailed.")
    return redirect("setup_users:detail", person.pk)


@require_GET
@login_required
@permission_required("accounts.view_apitoken", raise_exception=True)
def token_index(request: StaffRequest) -> HttpResponse:
    tokens = list(selectors.token_list())
    for token in tokens:
        token.owner_mfa = selectors.mfa_state(token.user, has_totp=token.owner_has_totp)  # type: ignore[attr-defined]
    return render(request, "accounts/setup/tokens.html", {"tokens": tokens})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(["accounts.add_apitoken", "accounts.view_apitoken"], raise_exception=True)
def token_new(request: StaffRequest) -> HttpResponse:
    form = TokenIssueForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = services.token_issue(
                request=request,
                user=form.cleaned_data["user"],
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                by=request.user,
                via="staff_ui",
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.detail)
            return render(
                request, "accounts/setup/token_new.html", {"form": form}, status=error.status_code
            )
        else:
            # Shown this once and never stored: the response is not cached (no-store).
            context = {"token": token, "raw": raw}
            return render(request, "accounts/setup/token_issued.html", context, status=201)
    status = 400 if form.is_bound else 200
    return render(request, "accounts/setup/token_new.html", {"form": form}, status=status)


@require_POST
@login_required
@permission_required("accounts.change_apitoken", raise_exception=True)
def token_revoke(request: StaffRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=pk)
    try:
        services.token_revoke(request=request, token=token, by=request.user)
    except DomainError as error:
        messages.error(request, error.detail)
        return redirect("setup_tokens:index")
    messages.success(request, "Token revoked; it stopped working at once.")
    return redirect("setup_tokens:index")
