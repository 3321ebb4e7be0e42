"""What SMS Broadcast's webhooks change: replies (§1.6) and delivery receipts (§1.5).

Both are idempotent: the same webhook delivered twice changes nothing the second time.
Replies act through the appointment and patient services, never on models directly.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.utils import timezone

from appointments.models import Appointment
from appointments.services import appointment_cancel, appointment_confirm
from audit.models import AuditEvent
from audit.services import Target, audit_record
from integrations.models import InboundMessage, Message
from patients.models import Patient
from patients.services import patient_update
from waitlist.services import waitlist_offer_for_reply, waitlist_offer_reply

log = structlog.get_logger(__name__)

Outcome = InboundMessage.Outcome
CANCEL_REASON = "Cancelled by SMS reply"
YES = {"YES", "Y"}
NO = {"NO", "N"}
STOP = {"STOP", "STOPALL", "UNSUBSCRIBE"}
_ACTIVE = (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED)


def e164(number: str) -> str:
    """SMS Broadcast sends `61412…`; patients' numbers are stored `+61412…`."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if digits.startswith("0") and len(digits) == 10:
        digits = "61" + digits[1:]
    return f"+{digits}" if digits else ""


def _message_by_ref(ref: str) -> Message | None:
    ref = ref.strip()
    if not ref.isdigit() or len(ref) > 18:
        return None
    return Message.objects.filter(pk=int(ref)).select_related("appointment", "patient").first()


@dataclass(frozen=True)
class Match:
    patient: Patient | None
    appointment: Appointment | None
    message: Message | None


def _match(sender: str, ref: str) -> Match:
    message = _message_by_ref(ref)
    # The ref must belong to a message sent to this number, or it is ignored.
    if message is not None and message.to == sender:
        return Match(message.patient, message.appointment, message)
    patients = list(Patient.objects.filter(phone=sender, archived=False)[:5])
    if not patients:
        return Match(None, None, None)
    reminded = Message.objects.filter(
        appointment=OuterRef("pk"),
        kind__in=[Message.Kind.REMINDER, Message.Kind.CONFIRMATION],
        to=sender,
    )
    appointment = (
        Appointment.objects.filter(
            patient__in=patients, status__in=_ACTIVE, start__gt=timezone.now()
        )
        .filter(Exists(reminded))
        .select_related("patient")
        .order_by("start", "id")
        .first()
    )
    patient = appointment.patient if appointment else (patients[0] if len(patients) == 1 else None)
    return Match(patient, appointment, None)


def _dedupe_key(params: Mapping[str, str]) -> str:
    canonical = "\x1f".join(f"{k}={params.get(k, '')}" for k in sorted(params))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _act(keyword: str, match: Match) -> str:
    appointment = match.appointment
    if keyword in YES and appointment is not None:
        if appointment.status == Appointment.Status.CONFIRMED:
            return Outcome.CONFIRMED
        if appointment.status == Appointment.Status.BOOKED:
            appointment_confirm(appointment=appointment)
            return Outcome.CONFIRMED
    if keyword in NO and appointment is not None:
        if appointment.status == Appointment.Status.CANCELLED:
            return Outcome.CANCELLED
        if appointment.status in _ACTIVE:
            # The patient already knows: no "your appointment is cancelled" text back.
            appointment_cancel(appointment=appointment, reason=CANCEL_REASON, notify=False)
            return Outcome.CANCELLED
    if keyword in STOP and match.patient is not None:
        if match.patient.sms_consent:
            patient_update(patient=match.patient, sms_consent=False)
        return Outcome.STOPPED
    return Outcome.INBOX


@transaction.atomic
def sms_reply_receive(*, params: Mapping[str, str], request: HttpRequest | None) -> InboundMessage:
    """Record a reply once and do what it asks: YES confirms, NO cancels, STOP withdraws
    consent; a YES or NO to a waitlist offer books or declines the offered time; anything
    else, or a number Nexus cannot match, waits in the inbox."""
    dedupe_key = _dedupe_key(params)
    existing = InboundMessage.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing
    sender = e164(params.get("from", ""))
    ref = params.get("ref", "")
    body = params.get("message", "")
    match = _match(sender, ref)
    keyword = body.strip().strip(".!").upper()
    offer = (
        waitlist_offer_for_reply(sender=sender, message=match.message)
        if keyword in YES | NO
        else None
    )
    if offer is not None:
        # The reply answers a waitlist offer (by `ref`, or as the latest question texted to
        # this number): YES books the offered time, NO declines it; no appointment changes.
        outcome, booked = waitlist_offer_reply(offer=offer, accept=keyword in YES)
        match = Match(offer.entry.patient, booked, match.message or offer.message)
    else:
        outcome = _act(keyword, match)
    try:
        with transaction.atomic():
            inbound = InboundMessage.objects.create(
                from_number=sender[:20],
                to_number=e164(params.get("to", ""))[:20],
                body=body,
                ref=ref[:40],
                dedupe_key=dedupe_key,
                patient=match.patient,
                appointment=match.appointment,
                in_reply_to=match.message,
                outcome=outcome,
            )
    except IntegrityError:
        # The same webhook, at the same moment, on another worker: it won; undo ours.
        transaction.set_rollback(True)
        return InboundMessage(dedupe_key=dedupe_key, outcome=outcome)
    patient_id = match.patient.pk if match.patient else None
    targets = [Target("integrations.inboundmessage", str(inbound.pk), patient_id)]
    if outcome in (Outcome.CONFIRMED, Outcome.CANCELLED, Outcome.BOOKED) and match.appointment:
        targets.append(Target.of(match.appointment, "patient_id"))
    audit_record(
        request=request,
        action=AuditEvent.Action.CREATE,
        targets=targets,
        detail={"webhook": "sms_inbound", "outcome": outcome},
    )
    log.info("sms.reply", inbound_id=inbound.pk, outcome=outcome, patient_id=patient_id)
    return inbound


_DELIVERED = {"delivered"}
_FAILED = {"failed", "expired", "rejected", "undeliverable", "undelivered"}


@transaction.atomic
def sms_receipt_receive(
    *, params: Mapping[str, str], request: HttpRequest | None
) -> Message | None:
    """A delivery receipt: Delivered → delivered, a final failure → failed. Other statuses
    are kept on the row but change nothing (integrations.md §1.5: the set is unconfirmed)."""
    message = _message_by_ref(params.get("ref", ""))
    smsref = params.get("smsref", "").strip()
    if message is None and smsref:
        message = Message.objects.filter(provider_ref=smsref).first()
    if message is None:
        log.info("sms.receipt_unmatched")
        return None
    message = Message.objects.select_for_update().get(pk=message.pk)
    status = params.get("status", "").strip()
    now = timezone.now()
    changed = False
    final = (Message.Status.DELIVERED, Message.Status.FAILED)
    if status.lower() in _DELIVERED and message.status != Message.Status.DELIVERED:
        message.status, message.delivered_at = Message.Status.DELIVERED, now
        changed = True
    elif status.lower() in _FAILED and message.status not in final:
        message.status = Message.Status.FAILED
        message.last_error = f"The network reported: {status}"[:300]
        changed = True
    if message.provider_status != status[:40]:
        message.provider_status = status[:40]
        changed = True
    if changed:
        message.save()
        audit_record(
            request=request,
            action=AuditEvent.Action.UPDATE,
            targets=[Target("integrations.message", str(message.pk), message.patient_id)],
            detail={"webhook": "sms_status", "status": message.status},
        )
        log.info("sms.receipt", message_id=message.pk, status=message.status)
    return message


@transaction.atomic
def inbound_mark_handled(*, inbound: InboundMessage, user_id: int) -> InboundMessage:
    current = InboundMessage.objects.select_for_update().get(pk=inbound.pk)
    if current.handled_at is None:
        current.handled_at, current.handled_by_id = timezone.now(), user_id
        current.save(update_fields=["handled_at", "handled_by"])
    return current
