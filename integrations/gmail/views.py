"""Settings → Email accounts: connect a clinic Gmail account (OAuth 2.0), see each one's
status, disconnect. For practice admins."""

import secrets

import structlog
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from audit.services import audit_change
from integrations.gmail import client
from integrations.gmail.services import gmail_accounts, gmail_connect, gmail_disconnect
from integrations.models import OAuthConnection
from integrations.oauth import TokenSet
from nexus.http import StaffRequest

log = structlog.get_logger(__name__)

MANAGE = "integrations.change_oauthconnection"
_STATE = "gmail_oauth_state"


def _redirect_uri(request: StaffRequest) -> str:
    return request.build_absolute_uri(reverse("gmail:callback"))


@require_GET
@login_required
@permission_required(MANAGE, raise_exception=True)
def gmail_settings(request: StaffRequest) -> HttpResponse:
    return render(
        request,
        "gmail/settings.html",
        {"accounts": gmail_accounts(), "configured": client.configured()},
    )


@require_GET
@login_required
@permission_required(MANAGE, raise_exception=True)
def gmail_connect_start(request: StaffRequest) -> HttpResponse:
    if not client.configured():
        messages.error(
            request, "Set GOOGLE_OAUTH_CLIENT_ID and GOOGLE_OAUTH_CLIENT_SECRET to connect Gmail."
        )
        return redirect("gmail:settings")
    state = secrets.token_urlsafe(24)
    request.session[_STATE] = state
    return redirect(client.authorize_url(redirect_uri=_redirect_uri(request), state=state))


@require_GET
@login_required
@permission_required(MANAGE, raise_exception=True)
def gmail_callback(request: StaffRequest) -> HttpResponse:
    state = request.session.pop(_STATE, None)
    if not state or not secrets.compare_digest(state, request.GET.get("state", "")):
        messages.error(request, "That Google sign-in had expired or was not started here.")
        return redirect("gmail:settings")
    if "code" not in request.GET:
        messages.error(request, "Google did not grant access.")
        return redirect("gmail:settings")
    try:
        token = client.exchange_code(code=request.GET["code"], redirect_uri=_redirect_uri(request))
        email = client.account_email(token)
    except client.GmailError as error:
        messages.error(request, f"{error.reason} Try again.")
        return redirect("gmail:settings")
    except Exception:
        log.exception("gmail.connect_failed")
        messages.error(request, "Google could not be reached or refused the sign-in; try again.")
        return redirect("gmail:settings")
    connection = gmail_connect(tokens=TokenSet.from_response(token), email=email, user=request.user)
    audit_change(request=request, record=connection, view="gmail_connect")
    messages.success(request, f"Connected {email}: email can now be sent from it.")
    return redirect("gmail:settings")


@require_POST
@login_required
@permission_required(MANAGE, raise_exception=True)
def gmail_disconnect_view(request: StaffRequest, account_id: int) -> HttpResponse:
    connection = get_object_or_404(
        OAuthConnection, pk=account_id, provider=OAuthConnection.Provider.GMAIL
    )
    gmail_disconnect(connection=connection, user=request.user)
    audit_change(request=request, record=connection, view="gmail_disconnect")
    messages.success(request, f"Disconnected {connection.account_id}; Google's grant is revoked.")
    return redirect("gmail:settings")
