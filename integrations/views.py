"""Staff pages: the Messages outbox, the reply Inbox, SMS on the chart and the appointment
panel, and the templates admins edit. Thin: the rules are in services and selectors."""

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from appointments.selectors import appointment_list
from audit.services import audit_change, audit_read
from clinicians.models import Clinic
from integrations.forms import MessageFilterForm, SmsForm
from integrations.models import InboundMessage, Message
from integrations.outbox import message_mark_handled, message_retry
from integrations.selectors import inbox_list, message_list, message_outbox
from integrations.services import (
    DEFAULT_TEMPLATES,
    PLACEHOLDERS,
    message_template_save,
    mobile_number,
    sms_send,
    template_check,
    templates_for,
)
from integrations.smsbroadcast.client import MAX_LENGTH
from integrations.smsbroadcast.services import inbound_mark_handled
from nexus.errors import DomainError
from nexus.http import StaffRequest
from patients.models import Patient
from patients.selectors import patient_list

PAGE = 100


def _audit_read(request: StaffRequest, rows: Iterable[Message | InboundMessage], view: str) -> None:
    # A reply from an unknown number belongs to no patient: nothing of a patient's was shown.
    audit_read(
        request=request, records=[row for row in rows if row.patient_id is not None], view=view
    )


@require_GET
@login_required
@permission_required("integrations.view_message", raise_exception=True)
def message_index(request: StaffRequest) -> HttpResponse:
    form = MessageFilterForm(request.GET or None)
    rows = message_outbox(user=request.user)
    if form.is_valid():
        if form.cleaned_data["status"]:
            rows = rows.filter(status=form.cleaned_data["status"])
        if form.cleaned_data["kind"]:
            rows = rows.filter(kind=form.cleaned_data["kind"])
        if form.cleaned_data["channel"]:
            rows = rows.filter(channel=form.cleaned_data["channel"])
    page = list(rows[:PAGE])
    _audit_read(request, page, "messages")
    return render(
        request,
        "integrations/messages.html",
        {
            "rows": page,
            "form": form,
            "page_size": PAGE,
            "inbox_count": inbox_list(user=request.user).count(),
        },
    )


def _back(request: StaffRequest) -> HttpResponse:
    # Back to the list the button was pressed on, filters kept; never to another site.
    target = request.POST.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = reverse("integrations:messages")
    return redirect(target)


@require_POST
@login_required
@permission_required("integrations.change_message", raise_exception=True)
def message_retry_view(request: StaffRequest, message_id: int) -> HttpResponse:
    message = get_object_or_404(message_list(user=request.user), pk=message_id)
    try:
        message_retry(message=message, user=request.user)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        audit_change(request=request, record=message, view="message_retry")
        messages.success(request, f"Message {message.pk} queued to send again.")
    return _back(request)


@require_POST
@login_required
@permission_required("integrations.change_message", raise_exception=True)
def message_handled_view(request: StaffRequest, message_id: int) -> HttpResponse:
    message = get_object_or_404(message_list(user=request.user), pk=message_id)
    try:
        message_mark_handled(message=message, user=request.user)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        audit_change(request=request, record=message, view="message_handled")
        messages.success(request, f"Message {message.pk} marked handled.")
    return _back(request)


@require_GET
@login_required
@permission_required("integrations.view_inboundmessage", raise_exception=True)
def inbox(request: StaffRequest) -> HttpResponse:
    show_all = request.GET.get("all") == "1"
    rows = list(inbox_list(user=request.user, include_handled=show_all)[:PAGE])
    _audit_read(request, rows, "sms_inbox")
    return render(request, "integrations/inbox.html", {"rows": rows, "show_all": show_all})


@require_POST
@login_required
@permission_required("integrations.change_inboundmessage", raise_exception=True)
def inbox_done(request: StaffRequest, inbound_id: int) -> HttpResponse:
    inbound = get_object_or_404(inbox_list(user=request.user, include_handled=True), pk=inbound_id)
    inbound_mark_handled(inbound=inbound, user_id=request.user.pk)
    audit_change(request=request, record=inbound, view="sms_inbox_done")
    messages.success(request, "Reply marked done.")
    return redirect("integrations:inbox")


def _patient_panel(
    request: StaffRequest, patient: Patient, form: SmsForm, **extra: Any
) -> HttpResponse:
    history = list(
        message_list(user=request.user)
        .filter(patient=patient, channel=Message.Channel.SMS)
        .select_related("appointment")
        .order_by("-created_at", "-id")[:20]
    )
    replies = list(InboundMessage.objects.filter(patient=patient).order_by("-received_at")[:10])
    _audit_read(request, [*history, *replies], "chart_sms")
    can_text = patient.sms_consent and mobile_number(patient.phone) is not None
    return render(
        request,
        "integrations/_patient_sms.html",
        {
            "patient": patient,
            "history": history,
            "replies": replies,
            "form": form,
            "can_text": can_text,
            "max_length": MAX_LENGTH,
            **extra,
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("integrations.view_message", raise_exception=True)
def patient_sms(request: StaffRequest, patient_id: int) -> HttpResponse:
    """The chart's SMS card: history, replies, and "Send SMS" with a part counter."""
    patient = get_object_or_404(patient_list(user=request.user), pk=patient_id)
    if request.method != "POST":
        return _patient_panel(request, patient, SmsForm())
    if not request.user.has_perm("integrations.add_message"):
        return HttpResponse(status=403)
    form = SmsForm(request.POST)
    if form.is_valid():
        try:
            message = sms_send(
                patient=patient, body=form.cleaned_data["body"], created_by=request.user
            )
        except DomainError as error:
            form.add_error("body", error.detail)
        else:
            audit_change(request=request, record=message, view="chart_sms", created=True)
            if not request.htmx:
                messages.success(request, "SMS queued.")
                return redirect("patients:chart", patient.pk)
            return _patient_panel(request, patient, SmsForm(), sent=message)
    if not request.htmx:
        messages.error(
            request, "; ".join(str(e) for errors in form.errors.values() for e in errors)
        )
        return redirect("patients:chart", patient.pk)
    return _patient_panel(request, patient, form)


@require_GET
@login_required
@permission_required("integrations.view_message", raise_exception=True)
def appointment_sms(request: StaffRequest, appointment_id: int) -> HttpResponse:
    """The appointment panel's SMS lines: what was sent, and what the patient replied."""
    appointment = get_object_or_404(appointment_list(user=request.user), pk=appointment_id)
    sent = list(
        message_list(user=request.user).filter(appointment=appointment).order_by("created_at")
    )
    replies = list(InboundMessage.objects.filter(appointment=appointment).order_by("received_at"))
    _audit_read(request, [*sent, *replies], "appointment_sms")
    return render(
        request,
        "integrations/_appointment_sms.html",
        {
            "sent": sent,
            "replies": replies,
            "reminded": any(m.kind == Message.Kind.REMINDER for m in sent),
            "confirmed_by_reply": any(
                r.outcome == InboundMessage.Outcome.CONFIRMED for r in replies
            ),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("integrations.change_messagetemplate", raise_exception=True)
def templates_edit(request: StaffRequest) -> HttpResponse:
    clinics = list(Clinic.objects.filter(is_active=True).order_by("name"))
    if not clinics:
        return render(request, "integrations/templates.html", {"clinics": []})
    try:
        clinic_id = int(request.POST.get("clinic") or request.GET.get("clinic") or clinics[0].pk)
    except ValueError:
        clinic_id = clinics[0].pk
    clinic = next((c for c in clinics if c.pk == clinic_id), clinics[0])
    saved = templates_for([clinic.pk])
    errors: dict[str, str] = {}
    values = {
        kind: saved.get((clinic.pk, kind), default) for kind, default in DEFAULT_TEMPLATES.items()
    }
    if request.method == "POST":
        changed = []
        for kind in DEFAULT_TEMPLATES:
            if kind not in request.POST:
                continue
            body = request.POST[kind].strip()
            values[kind] = body
            if body == saved.get((clinic.pk, kind), DEFAULT_TEMPLATES[kind]):
                continue
            try:
                template_check(body)
            except DomainError as error:
                errors[kind] = error.detail
            changed.append(kind)
        if not errors:
            # All or nothing: a form with one bad template saves none of them.
            for kind in changed:
                message_template_save(
                    clinic=clinic, kind=kind, body=values[kind], user=request.user
                )
            messages.success(request, f"Message templates for {clinic.name} saved.")
            return redirect(f"{reverse('integrations:templates')}?clinic={clinic.pk}")
    return render(
        request,
        "integrations/templates.html",
        {
            "clinics": clinics,
            "clinic": clinic,
            "fields": [
                (kind, Message.Kind(kind).label, values[kind], errors.get(kind))
                for kind in DEFAULT_TEMPLATES
            ],
            "placeholders": PLACEHOLDERS,
        },
        status=400 if errors else 200,
    )
