"""Settings → Email accounts: connect a Gmail account (OAuth 2.0), see each one's status,
disconnect. Practice admins connect the clinic's accounts and see every one; a clinician
connects their own (one) and sees it beside the clinic's."""

from datetime import timedelta
from typing import cast

import structlog
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from audit.services import audit_change, audit_read
from clinicians.models import Clinic
from documents.models import Document
from integrations.gmail import client
from integrations.gmail.services import (
    email_default_account,
    email_send,
    gmail_accounts,
    gmail_connect,
    gmail_disconnect,
    gmail_may_connect,
    gmail_may_manage,
    gmail_set_defaults,
    gmail_usable,
)
from integrations.models import Message, OAuthConnection
from integrations.oauth import TokenSet, oauth_state_matches, oauth_state_new
from integrations.selectors import message_list
from nexus.errors import DomainError
from nexus.http import StaffRequest
from notes.letters import letter_addressed_to
from patients.models import Patient
from patients.selectors import patient_list

log = structlog.get_logger(__name__)

MANAGE = "integrations.change_oauthconnection"
Status = OAuthConnection.Status
_STATE = "gmail_oauth_state"


def _redirect_uri(request: StaffRequest) -> str:
    return request.build_absolute_uri(reverse("gmail:callback"))


def _may_connect(request: StaffRequest) -> None:
    if not gmail_may_connect(request.user):
        raise PermissionDenied


def _personal(request: StaffRequest) -> bool:
    """A practice admin connects clinic accounts; anyone else connects their own."""
    return not gmail_may_manage(request.user)


@require_GET
@login_required
def gmail_settings(request: StaffRequest) -> HttpResponse:
    _may_connect(request)
    accounts = gmail_accounts(user=request.user)
    return render(
        request,
        "gmail/settings.html",
        {
            "accounts": accounts,
            "clinics": list(Clinic.objects.filter(is_active=True).order_by("name")),
            "configured": client.configured(),
            "manage": gmail_may_manage(request.user),
            "own": next(
                (
                    a
                    for a in accounts
                    if a.owner_id == request.user.pk and a.status != Status.DISCONNECTED
                ),
                None,
            ),
        },
    )


@require_GET
@login_required
def gmail_connect_start(request: StaffRequest) -> HttpResponse:
    _may_connect(request)
    if _personal(request):
        own = (
            gmail_usable(user=request.user)
            .filter(owner=request.user, status=Status.CONNECTED)
            .first()
        )
        if own is not None:
            messages.error(
                request, f"{own.account_id} is connected already; disconnect it to connect another."
            )
            return redirect("gmail:settings")
    if not client.configured():
        messages.error(
            request, "Set GOOGLE_OAUTH_CLIENT_ID and GOOGLE_OAUTH_CLIENT_SECRET to connect Gmail."
        )
        return redirect("gmail:settings")
    state = oauth_state_new(request.session, key=_STATE)
    return redirect(client.authorize_url(redirect_uri=_redirect_uri(request), state=state))


@require_GET
@login_required
def gmail_callback(request: StaffRequest) -> HttpResponse:
    _may_connect(request)
    if not oauth_state_matches(request.session, key=_STATE, given=request.GET.get("state", "")):
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
    personal = _personal(request)
    try:
        connection = gmail_connect(
            tokens=TokenSet.from_response(token), email=email, user=request.user, personal=personal
        )
    except DomainError as error:
        messages.error(request, error.detail)
        return redirect("gmail:settings")
    audit_change(
        request=request, record=connection, view="gmail_connect", detail={"personal": personal}
    )
    messages.success(request, f"Connected {email}: email can now be sent from it.")
    return redirect("gmail:settings")


@require_POST
@login_required
def gmail_disconnect_view(request: StaffRequest, account_id: int) -> HttpResponse:
    _may_connect(request)
    connection = get_object_or_404(
        OAuthConnection, pk=account_id, provider=OAuthConnection.Provider.GMAIL
    )
    try:
        gmail_disconnect(connection=connection, user=request.user)
    except DomainError as error:
        return HttpResponse(error.detail, status=error.status_code, content_type="text/plain")
    audit_change(
        request=request,
        record=connection,
        view="gmail_disconnect",
        detail={"personal": connection.owner_id is not None},
    )
    messages.success(request, f"Disconnected {connection.account_id}; Google's grant is revoked.")
    return redirect("gmail:settings")


@require_POST
@login_required
@permission_required(MANAGE, raise_exception=True)
def gmail_defaults_view(request: StaffRequest, account_id: int) -> HttpResponse:
    connection = get_object_or_404(
        OAuthConnection, pk=account_id, provider=OAuthConnection.Provider.GMAIL
    )
    clinic_ids = [int(v) for v in request.POST.getlist("clinics") if v.isdigit()]
    try:
        gmail_set_defaults(connection=connection, clinic_ids=clinic_ids)
    except DomainError as error:
        messages.error(request, error.detail)
        return redirect("gmail:settings")
    audit_change(request=request, record=connection, view="gmail_defaults")
    messages.success(request, f"Saved the clinics that send from {connection.account_id}.")
    return redirect("gmail:settings")


# --- the chart's Email card --------------------------------------------------------------


class EmailForm(forms.Form):
    # The chart also holds the SMS form: a prefix keeps the ids and names apart.
    prefix = "email"
    account = forms.TypedChoiceField(label="From", coerce=int, required=False)
    to = forms.ChoiceField(label="To")
    address = forms.EmailField(
        label="Address", required=False, help_text="When To is another address."
    )
    subject = forms.CharField(max_length=200)
    body = forms.CharField(label="Email text", widget=forms.Textarea(attrs={"rows": 5}))
    documents = forms.TypedMultipleChoiceField(
        label="Attach", coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(
        self,
        *args: object,
        patient: Patient,
        documents: list[Document],
        user: User,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # Only the accounts this user may send from: the clinic's and their own.
        accounts = gmail_usable(user=user).filter(status=Status.CONNECTED)
        cast(forms.ChoiceField, self.fields["account"]).choices = [
            (a.pk, a.account_id if a.owner_id is None else f"{a.account_id} (your own)")
            for a in accounts.order_by("owner_id", "account_id")
        ]
        to = [("patient", f"The patient ({patient.email or 'no address'})")]
        if patient.referrer is not None:
            to.append(("referrer", f"The referrer, {patient.referrer.name}"))
        if patient.coordinator is not None:
            to.append(("coordinator", f"The coordinator, {patient.coordinator.name}"))
        to.append(("other", "Another address"))
        cast(forms.ChoiceField, self.fields["to"]).choices = to
        cast(forms.ChoiceField, self.fields["documents"]).choices = [
            (d.pk, f"{d.original_name} ({d.get_category_display()}, {d.size // 1024 + 1} KB)")
            for d in documents
        ]


def _new_form(
    patient: Patient, documents: list[Document], user: User, letter: Document | None = None
) -> EmailForm:
    default = email_default_account(patient=patient)
    initial: dict[str, object] = {"account": default.pk} if default is not None else {}
    if letter is not None:
        initial.update(_letter_initial(patient, letter))
    return EmailForm(patient=patient, documents=documents, user=user, initial=initial)


def _letter_initial(patient: Patient, letter: Document) -> dict[str, object]:
    """A just-written letter, ready to send: to whom it was written, with it attached."""
    to = letter_addressed_to(letter) or "patient"
    name = f"{patient.given_name} {patient.family_name}"
    if to == "patient":
        subject, body = "Your letter", "Please find your letter attached."
    else:
        subject, body = f"Letter about {name}", f"Please find attached our letter about {name}."
    return {"to": to, "subject": subject, "body": body, "documents": [letter.pk]}


def _letter(request: StaffRequest, patient: Patient, documents: list[Document]) -> Document | None:
    """The letter `?letter=<id>` names, when it is one of this patient's current letters."""
    raw = request.GET.get("letter", "")
    if not raw.isdigit():
        return None
    return next(
        (d for d in documents if d.pk == int(raw) and d.category == Document.Category.LETTER),
        None,
    )


def _email_panel(
    request: StaffRequest, patient: Patient, form: EmailForm | None = None, **extra: object
) -> HttpResponse:
    documents = list(
        Document.objects.filter(patient=patient, deleted_at__isnull=True).order_by("-uploaded_at")[
            :30
        ]
    )
    history = list(
        message_list(user=request.user)
        .filter(patient=patient, channel=Message.Channel.EMAIL)
        .select_related("account")
        .prefetch_related("documents")
        .order_by("-created_at", "-id")[:20]
    )
    audit_read(request=request, records=history, view="chart_email")
    # On its way (not held, not waiting minutes for a retry): the list looks again shortly.
    soon = timezone.now() + timedelta(seconds=30)
    pending = any(
        m.status == Message.Status.SENDING
        or (m.status == Message.Status.QUEUED and m.next_attempt_at and m.next_attempt_at < soon)
        for m in history
    )
    letter = _letter(request, patient, documents) if form is None else None
    return render(
        request,
        "gmail/_patient_email.html",
        {
            "patient": patient,
            "form": form or _new_form(patient, documents, request.user, letter),
            "compose": letter is not None,
            "history": history,
            "configured": client.configured(),
            "pending": pending,
            **extra,
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("integrations.view_message", raise_exception=True)
def patient_email(request: StaffRequest, patient_id: int) -> HttpResponse:
    """The chart's Email card: what was sent, and "Send email" from a clinic account."""
    patient = get_object_or_404(
        patient_list(user=request.user).select_related("referrer", "coordinator"), pk=patient_id
    )
    if request.method != "POST":
        return _email_panel(request, patient)
    if not request.user.has_perm("integrations.add_message"):
        return HttpResponse(status=403)
    documents = list(Document.objects.filter(patient=patient, deleted_at__isnull=True))
    form = EmailForm(request.POST, patient=patient, documents=documents, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        to = data["address"] if data["to"] == "other" else data["to"]
        try:
            message = email_send(
                patient=patient,
                to=to or "",
                subject=data["subject"],
                body=data["body"],
                account_id=data["account"],
                document_ids=data["documents"],
                created_by=request.user,
            )
        except DomainError as error:
            form.add_error(None, error.detail)
        else:
            audit_change(request=request, record=message, view="chart_email", created=True)
            return _email_panel(request, patient, sent=message)
    return _email_panel(request, patient, form)
