"""Raising, approving, voiding and paying invoices.

Totals are computed here, in integer cents, from the lines; the database checks that they
add up (billing.models constraints) and that an appointment has one live invoice.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from appointments.models import Appointment, AppointmentType
from billing.models import BillingSettings, Invoice, InvoiceLine
from billing.money import cents, gst_on
from integrations.models import Message
from integrations.xero.queue import xero_enqueue
from nexus.errors import AlreadyInvoiced, InvalidTransition, NotBillable, ValidationFailed
from patients.models import Patient

log = structlog.get_logger(__name__)

Status = Invoice.Status


@dataclass(frozen=True)
class LineInput:
    description: str
    unit_price_cents: int
    quantity: int = 1
    tax: str = InvoiceLine.Tax.GST_FREE
    item_code: str = ""
    appointment_type: AppointmentType | None = None


def billing_settings() -> BillingSettings:
    settings, _ = BillingSettings.objects.get_or_create(pk=1)
    return settings


@transaction.atomic
def billing_settings_update(*, auto_invoice_on_completion: bool) -> BillingSettings:
    settings = billing_settings()
    settings.auto_invoice_on_completion = auto_invoice_on_completion
    settings.save(update_fields=["auto_invoice_on_completion"])
    return settings


def _next_number() -> tuple[str, int]:
    """The next invoice number, taken under a row lock (call inside a transaction)."""
    billing_settings()
    settings = BillingSettings.objects.select_for_update().get(pk=1)
    number = settings.next_number
    settings.next_number = number + 1
    settings.save(update_fields=["next_number"])
    return f"{settings.number_prefix}{number:06d}", settings.payment_terms_days


def _payer(patient: Patient) -> tuple[str, str, int | None]:
    """Who pays, as the patient's funding says: an NDIS participant's plan manager or
    coordinator when one is on file, otherwise the patient."""
    coordinator = patient.coordinator if patient.coordinator_id else None
    if patient.funding_type == Patient.Funding.NDIS and coordinator is not None:
        name = coordinator.name
        if coordinator.organisation:
            name = f"{coordinator.name} ({coordinator.organisation})"
        return Invoice.Payer.COORDINATOR, name[:170], coordinator.pk
    return Invoice.Payer.PATIENT, patient.full_name[:170], None


def line_amounts(line: LineInput) -> tuple[int, int]:
    """(amount excluding GST, GST) in cents for one line."""
    if line.quantity < 1:
        raise ValidationFailed("A line needs a quantity of at least 1.", field="quantity")
    if line.unit_price_cents < 0:
        raise ValidationFailed("A price cannot be negative.", field="unit_price_cents")
    amount = line.quantity * line.unit_price_cents
    return amount, gst_on(amount) if line.tax == InvoiceLine.Tax.GST else 0


def invoice_create(
    *,
    appointment: Appointment,
    lines: list[LineInput],
    created_by: User | None = None,
    issue_date: date | None = None,
) -> Invoice:
    """A draft invoice for an appointment with the given lines (inside a transaction)."""
    if not lines:
        raise ValidationFailed("An invoice needs at least one line.", field="lines")
    if Invoice.objects.filter(appointment=appointment).exclude(status=Status.VOIDED).exists():
        raise AlreadyInvoiced()
    number, terms = _next_number()
    kind, payer_name, coordinator_id = _payer(appointment.patient)
    issued = issue_date or appointment.start.astimezone(appointment.clinic.tz).date()
    amounts = [line_amounts(line) for line in lines]
    subtotal = sum(amount for amount, _ in amounts)
    gst = sum(tax for _, tax in amounts)
    try:
        with transaction.atomic():
            invoice = Invoice.objects.create(
                number=number,
                appointment=appointment,
                patient=appointment.patient,
                payer_kind=kind,
                payer_name=payer_name,
                payer_coordinator_id=coordinator_id,
                issue_date=issued,
                due_date=issued + timedelta(days=terms),
                subtotal_cents=subtotal,
                gst_cents=gst,
                total_cents=subtotal + gst,
                created_by=created_by,
            )
    except IntegrityError as exc:
        if "invoice_one_per_appointment" in str(exc) or "appointment_id" in str(exc):
            raise AlreadyInvoiced() from None
        raise
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=position,
            appointment_type=line.appointment_type,
            description=line.description[:200],
            item_code=line.item_code,
            quantity=line.quantity,
            unit_price_cents=line.unit_price_cents,
            tax=line.tax,
            amount_cents=amount,
            gst_cents=tax,
        )
        for position, (line, (amount, tax)) in enumerate(zip(lines, amounts, strict=True), 1)
    )
    log.info("invoice.raised", invoice_id=invoice.pk, appointment_id=appointment.pk)
    return invoice


@transaction.atomic
def invoice_raise(*, appointment: Appointment, created_by: User | None = None) -> Invoice:
    """One click on a completed appointment: a draft invoice with its type's line."""
    current = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if current.status != Appointment.Status.COMPLETED:
        raise NotBillable()
    current = Appointment.objects.select_related(
        "appointment_type", "patient__coordinator", "clinic"
    ).get(pk=current.pk)
    kind = current.appointment_type
    line = LineInput(
        description=kind.name,
        unit_price_cents=cents(kind.price),
        item_code=kind.xero_item_code,
        tax=InvoiceLine.Tax.GST if kind.gst_applies else InvoiceLine.Tax.GST_FREE,
        appointment_type=kind,
    )
    return invoice_create(appointment=current, lines=[line], created_by=created_by)


def invoice_auto_raise(*, appointment: Appointment) -> Invoice | None:
    """Called when an appointment is completed: raise its draft if the practice wants that
    and it has none yet."""
    if not billing_settings().auto_invoice_on_completion:
        return None
    if Invoice.objects.filter(appointment=appointment).exclude(status=Status.VOIDED).exists():
        return None
    return invoice_raise(appointment=appointment)


def _lock(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_for_update().get(pk=invoice.pk)


def _refuse(current: Invoice, to: str) -> None:
    if not current.can_move_to(to):
        raise InvalidTransition(
            f"A {current.get_status_display().lower()} invoice cannot become "
            f"{Status(to).label.lower()}."
        )


@transaction.atomic
def invoice_approve(*, invoice: Invoice, user: User | None) -> Invoice:
    """draft → approved; queues the push to Xero when the practice is connected."""
    current = _lock(invoice)
    _refuse(current, Status.APPROVED)
    current.status = Status.APPROVED
    current.approved_at, current.approved_by = timezone.now(), user
    current.push_message = xero_enqueue(kind=Message.Kind.INVOICE_PUSH, invoice=current, user=user)
    current.save(
        update_fields=["status", "approved_at", "approved_by", "push_message", "updated_at"]
    )
    log.info("invoice.approved", invoice_id=current.pk)
    return current


@transaction.atomic
def invoice_void(*, invoice: Invoice, user: User | None, reason: str) -> Invoice:
    """draft|approved → voided. A paid invoice is refunded in Xero, not voided here."""
    current = _lock(invoice)
    _refuse(current, Status.VOIDED)
    if not reason.strip():
        raise ValidationFailed("Say why the invoice is voided.", field="reason")
    current.status = Status.VOIDED
    current.voided_at, current.voided_by = timezone.now(), user
    current.void_reason = reason.strip()[:250]
    current.save(update_fields=["status", "voided_at", "voided_by", "void_reason", "updated_at"])
    if current.push_message_id:
        # Xero has it, or will have it by the time this runs (rows are sent in the order
        # they were queued; voiding one that never arrived does nothing).
        xero_enqueue(kind=Message.Kind.INVOICE_VOID, invoice=current, user=user)
    log.info("invoice.voided", invoice_id=current.pk)
    return current


def invoice_xero_synced(*, invoice: Invoice, xero_invoice_id: str) -> None:
    """The push reached Xero: remember Xero's id, for the link and the read-back."""
    Invoice.objects.filter(pk=invoice.pk, xero_invoice_id__isnull=True).update(
        xero_invoice_id=xero_invoice_id, xero_status="AUTHORISED", updated_at=timezone.now()
    )


@transaction.atomic
def invoice_apply_xero(*, invoice: Invoice, xero_status: str, amount_paid_cents: int) -> str | None:
    """What the read-back found in Xero; answers "paid", "voided" or None (no change)."""
    current = _lock(invoice)
    current.xero_status = xero_status
    current.amount_paid_cents = max(current.amount_paid_cents, amount_paid_cents)
    current.save(update_fields=["xero_status", "amount_paid_cents", "updated_at"])
    if xero_status == "PAID" and current.status == Status.APPROVED:
        invoice_mark_paid(invoice=current, amount_paid_cents=amount_paid_cents)
        return "paid"
    if xero_status in ("VOIDED", "DELETED") and current.can_move_to(Status.VOIDED):
        current.status = Status.VOIDED
        current.voided_at = timezone.now()
        current.void_reason = "Voided in Xero."
        current.save(update_fields=["status", "voided_at", "void_reason", "updated_at"])
        log.info("invoice.voided_in_xero", invoice_id=current.pk)
        return "voided"
    return None


@transaction.atomic
def invoice_mark_paid(
    *, invoice: Invoice, amount_paid_cents: int, paid_at: datetime | None = None
) -> Invoice:
    """approved → paid (a payment read back from Xero)."""
    current = _lock(invoice)
    if current.status == Status.PAID:
        return current
    _refuse(current, Status.PAID)
    current.status = Status.PAID
    current.amount_paid_cents = amount_paid_cents
    current.paid_at = paid_at or timezone.now()
    current.save(update_fields=["status", "amount_paid_cents", "paid_at", "updated_at"])
    log.info("invoice.paid", invoice_id=current.pk)
    return current
