"""Xero: the practice's connection, pushing invoices, and reading payments back.

Pushes go through the outbox (a `Message` on channel "xero", its `body` the invoice id):
written in the transaction that approves or voids the invoice, delivered after commit,
retried with backoff, visible on the sync queue page when they fail. Every create carries
an Idempotency-Key derived from the invoice, so a retry after a lost answer never makes a
second invoice or contact in Xero.
"""

from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from billing.models import Invoice
from billing.money import dollars
from billing.services import invoice_apply_xero, invoice_xero_synced
from integrations.models import ExternalContact, OAuthConnection
from integrations.oauth import TokenSet, oauth_connection_save
from integrations.xero import client as xero
from integrations.xero.client import XeroClient, XeroError, XeroLine
from integrations.xero.queue import xero_connection

log = structlog.get_logger(__name__)

TAX_TYPES = {"gst_free": "EXEMPTOUTPUT", "gst": "OUTPUT"}
# Read-back overlaps the previous one by this much: clocks differ, and reading an
# invoice twice is harmless.
READBACK_OVERLAP = timedelta(minutes=5)


@transaction.atomic
def xero_connect(
    *, tokens: TokenSet, tenant_id: str, tenant_name: str, grant_id: str, user: User
) -> OAuthConnection:
    """Keep one organisation: connecting another replaces the previous connection."""
    OAuthConnection.objects.filter(provider=OAuthConnection.Provider.XERO).exclude(
        account_id=tenant_id
    ).delete()
    return oauth_connection_save(
        provider=OAuthConnection.Provider.XERO,
        account_id=tenant_id,
        account_name=tenant_name,
        tokens=tokens,
        user=user,
        grant_id=grant_id,
    )


def xero_disconnect(*, user: User) -> None:
    connection = xero_connection()
    if connection is None:
        return
    try:
        xero.disconnect(connection)
    except Exception:
        # Xero may have revoked it already; Nexus forgets the tokens either way.
        log.warning("xero.disconnect_failed", connection_id=connection.pk)
    connection.delete()
    log.info("xero.disconnected", user_id=user.pk)


# --- the push (called by the transport, after commit, in a worker) ---------------------


def _payer_contact(client: XeroClient, connection: OAuthConnection, invoice: Invoice) -> str:
    """The payer's Xero ContactID: the stored one, else an exact ContactNumber match,
    else a new contact. Never a match on the name: two patients can share one."""
    if invoice.payer_kind == Invoice.Payer.COORDINATOR and invoice.payer_coordinator_id:
        payer = {"coordinator_id": invoice.payer_coordinator_id}
        number = f"C{invoice.payer_coordinator_id}"
        email = invoice.payer_coordinator.email if invoice.payer_coordinator else ""
    else:
        payer = {"patient_id": invoice.patient_id}
        number = f"P{invoice.patient_id}"
        email = invoice.patient.email
    stored = ExternalContact.objects.filter(connection=connection, **payer).first()
    if stored is not None:
        return stored.external_id
    contact_id = client.contact_by_number(number)
    if contact_id is None:
        contact_id = client.contact_create(
            name=invoice.payer_name,
            number=number,
            email=email,
            key=f"nexus-contact-{connection.account_id[:8]}-{number}",
        )
    try:
        with transaction.atomic():
            ExternalContact.objects.create(connection=connection, external_id=contact_id, **payer)
    except IntegrityError:
        pass  # Another push stored the same payer's contact a moment ago.
    return contact_id


def idempotency_key(invoice: Invoice) -> str:
    """Derived from the invoice, so every retry of its push sends the same key."""
    return f"nexus-invoice-{invoice.pk}-{invoice.number}"


def xero_push_invoice(*, invoice_id: int) -> str:
    """Create the invoice in Xero (ACCREC, AUTHORISED); answer Xero's InvoiceID."""
    connection = xero_connection()
    if connection is None:
        raise XeroError("Xero is not connected.", permanent=True)
    invoice = (
        Invoice.objects.select_related("patient", "payer_coordinator", "appointment")
        .prefetch_related("lines")
        .get(pk=invoice_id)
    )
    if invoice.xero_invoice_id:
        return invoice.xero_invoice_id  # Already there: a staff retry after success.
    if invoice.status == Invoice.Status.VOIDED:
        raise XeroError("The invoice was voided before it reached Xero.", permanent=True)
    client = XeroClient(connection)
    contact_id = _payer_contact(client, connection, invoice)
    lines = [
        XeroLine(
            description=line.description,
            quantity=line.quantity,
            unit_amount=dollars(line.unit_price_cents),
            tax_amount=dollars(line.gst_cents),
            tax_type=TAX_TYPES[line.tax],
            item_code=line.item_code,
        )
        for line in invoice.lines.all()
    ]
    state = client.invoice_create(
        contact_id=contact_id,
        number=invoice.number,
        reference=f"Appointment {invoice.appointment_id}",
        issued=invoice.issue_date,
        due=invoice.due_date,
        lines=lines,
        key=idempotency_key(invoice),
    )
    if state.total != dollars(invoice.total_cents):
        log.warning("xero.total_differs", invoice_id=invoice.pk)
    invoice_xero_synced(invoice=invoice, xero_invoice_id=state.invoice_id)
    log.info("xero.invoice_pushed", invoice_id=invoice.pk, waits=client.rate_limit_waits)
    return state.invoice_id


def xero_void_invoice(*, invoice_id: int) -> str:
    connection = xero_connection()
    if connection is None:
        raise XeroError("Xero is not connected.", permanent=True)
    invoice = Invoice.objects.get(pk=invoice_id)
    if not invoice.xero_invoice_id:
        return ""  # Never reached Xero: nothing to void there.
    state = XeroClient(connection).invoice_void(invoice.xero_invoice_id)
    return state.invoice_id


# --- read-back ---------------------------------------------------------------------------


def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def xero_sync(*, now: datetime | None = None) -> dict[str, int]:
    """Read invoices changed in Xero since the last run (If-Modified-Since) and bring
    payments and voids onto Nexus's invoices. Safe to run twice or concurrently."""
    counts = {"read": 0, "paid": 0, "voided": 0}
    connection = xero_connection()
    if connection is None:
        return counts
    started = now or timezone.now()
    since = connection.synced_until - READBACK_OVERLAP if connection.synced_until else None
    client = XeroClient(connection)
    page = 1
    while True:
        states = client.invoices_modified_since(since, page=page)
        by_id = {s.invoice_id: s for s in states}
        ours = Invoice.objects.filter(xero_invoice_id__in=list(by_id))
        for invoice in ours:
            state = by_id[invoice.xero_invoice_id or ""]
            outcome = invoice_apply_xero(
                invoice=invoice,
                xero_status=state.status,
                amount_paid_cents=_cents(state.amount_paid),
            )
            if outcome:
                counts[outcome] += 1
        counts["read"] += len(states)
        if len(states) < 100:
            break
        page += 1
    OAuthConnection.objects.filter(pk=connection.pk).update(synced_until=started)
    log.info("xero.synced", **counts)
    return counts
