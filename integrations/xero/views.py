"""Xero pages for practice admins: connect (OAuth 2.0), pick the organisation,
disconnect, and the sync queue of every push with its state, Xero's error and a retry."""

import json
from urllib.parse import urlencode

import structlog
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from audit.services import audit_change, audit_read
from billing.models import Invoice
from integrations.models import Message
from integrations.oauth import TokenSet, oauth_state_matches, oauth_state_new
from integrations.outbox import message_retry
from integrations.xero import client as xero
from integrations.xero.queue import xero_connection
from integrations.xero.services import xero_connect, xero_disconnect
from nexus import crypto
from nexus.errors import DomainError
from nexus.http import StaffRequest

log = structlog.get_logger(__name__)

MANAGE = "integrations.change_oauthconnection"
_STATE = "xero_oauth_state"
_PENDING = "xero_pending"
PAGE = 100


def _redirect_uri(request: StaffRequest) -> str:
    return request.build_absolute_uri(reverse("xero:callback"))


@require_GET
@login_required
@permission_required(MANAGE, raise_exception=True)
def xero_settings(request: StaffRequest) -> HttpResponse:
    return render(
        request,
        "xero/settings.html",
        {"connection": xero_connection(), "configured": bool(settings.XERO_CLIENT_ID)},
    )


@require_GET
@login_required
@permission_required(MANAGE, raise_exception=True)
def xero_connect_start(request: StaffRequest) -> HttpResponse:
    if not settings.XERO_CLIENT_ID:
        messages.error(request, "Set XERO_CLIENT_ID and XERO_CLIENT_SECRET to connect Xero.")
        return redirect("xero:settings")
    state = oauth_state_new(request.session, key=_STATE)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.XERO_CLIENT_ID,
            "redirect_uri": _redirect_uri(request),
            "scope": xero.SCOPES,
            "state": state,
        }
    )
    return redirect(f"{settings.XERO_AUTHORIZE_URL}?{query}")


@require_GET
@login_required
@permission_required(MANAGE, raise_exception=True)
def xero_callback(request: StaffRequest) -> HttpResponse:
    if not oauth_state_matches(request.session, key=_STATE, given=request.GET.get("state", "")):
        messages.error(request, "That Xero sign-in had expired or was not started here; try again.")
        return redirect("xero:settings")
    if "code" not in request.GET:
        messages.error(request, "Xero did not grant access.")
        return redirect("xero:settings")
    try:
        token = xero.exchange_code(code=request.GET["code"], redirect_uri=_redirect_uri(request))
        tokens = TokenSet.from_response(token)
        organisations = xero.connections_for(tokens)
    except Exception:
        log.exception("xero.connect_failed")
        messages.error(request, "Xero could not be reached or refused the sign-in; try again.")
        return redirect("xero:settings")
    if not organisations:
        messages.error(request, "That Xero login has no organisation to connect.")
        return redirect("xero:settings")
    if len(organisations) == 1:
        return _connect(request, tokens, organisations[0])
    # Several organisations: ask which. The tokens wait in the session, encrypted.
    request.session[_PENDING] = {
        "token": crypto.encrypt(json.dumps(tokens.as_sdk_dict())),
        "organisations": organisations,
    }
    return render(request, "xero/choose.html", {"organisations": organisations})


def _connect(request: StaffRequest, tokens: TokenSet, organisation: dict[str, str]) -> HttpResponse:
    xero_connect(
        tokens=tokens,
        tenant_id=organisation["tenant_id"],
        tenant_name=organisation["name"],
        grant_id=organisation["id"],
        user=request.user,
    )
    messages.success(request, f"Connected to Xero: {organisation['name']}.")
    return redirect("xero:settings")


@require_POST
@login_required
@permission_required(MANAGE, raise_exception=True)
def xero_choose(request: StaffRequest) -> HttpResponse:
    pending = request.session.pop(_PENDING, None)
    if not pending:
        messages.error(request, "Start connecting Xero again.")
        return redirect("xero:settings")
    chosen = [o for o in pending["organisations"] if o["tenant_id"] == request.POST.get("tenant")]
    if not chosen:
        messages.error(request, "Pick one of the organisations.")
        return redirect("xero:settings")
    tokens = TokenSet.from_response(json.loads(crypto.decrypt(pending["token"])))
    return _connect(request, tokens, chosen[0])


@require_POST
@login_required
@permission_required(MANAGE, raise_exception=True)
def xero_disconnect_view(request: StaffRequest) -> HttpResponse:
    xero_disconnect(user=request.user)
    messages.success(request, "Xero is disconnected; new invoices stay in Nexus.")
    return redirect("xero:settings")


def _queue() -> "list[tuple[Message, Invoice | None]]":
    rows = list(
        Message.objects.filter(channel=Message.Channel.XERO)
        .select_related("patient")
        .order_by("-created_at", "-id")[:PAGE]
    )
    ids = [int(m.body) for m in rows if m.body.isdigit()]
    invoices = {i.pk: i for i in Invoice.objects.filter(pk__in=ids)}
    return [(m, invoices.get(int(m.body)) if m.body.isdigit() else None) for m in rows]


@require_GET
@login_required
@permission_required(MANAGE, raise_exception=True)
def xero_queue(request: StaffRequest) -> HttpResponse:
    rows = _queue()
    audit_read(
        request=request, records=[m for m, _ in rows if m.patient_id is not None], view="xero_sync"
    )
    failed = sum(1 for m, _ in rows if m.needs_attention)
    return render(
        request,
        "xero/queue.html",
        {"rows": rows, "failed": failed, "page_size": PAGE, "connection": xero_connection()},
    )


@require_POST
@login_required
@permission_required(MANAGE, raise_exception=True)
def xero_retry(request: StaffRequest, message_id: int) -> HttpResponse:
    message = get_object_or_404(Message, pk=message_id, channel=Message.Channel.XERO)
    try:
        message_retry(message=message, user=request.user)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        audit_change(request=request, record=message, view="xero_retry")
        messages.success(request, "Queued to send to Xero again.")
    return redirect("xero:queue")
