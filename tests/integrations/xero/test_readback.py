"""Payments and voids made in Xero come back onto Nexus's invoices."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from billing.models import Invoice
from billing.services import invoice_approve, invoice_raise, invoice_void
from integrations.models import OAuthConnection
from integrations.xero.tasks import xero_sync_task
from tests.conftest import MONDAY, sydney
from tests.factories import AppointmentFactory, AppointmentTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(practice, patient, xero_connected, fake_xero, django_capture_on_commit_callbacks):
    kind = AppointmentTypeFactory(
        name="Orthotic review", price=Decimal("120"), xero_item_code="ORTHO"
    )
    appointment = AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=kind,
        start=sydney(MONDAY, 9),
        status="completed",
    )
    invoice = invoice_raise(appointment=appointment)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_approve(invoice=invoice, user=None)
    invoice.refresh_from_db()
    assert invoice.xero_invoice_id
    return invoice


def test_a_payment_in_xero_marks_the_invoice_paid(reception_api, synced, fake_xero, capsys):
    fake_xero.pay(synced.xero_invoice_id)

    call_command("xero_sync")

    data = reception_api.get(f"/api/v1/invoices/{synced.pk}/").json()
    assert data["status"] == "paid"
    assert data["amount_paid_cents"] == 12000
    assert "1 paid" in capsys.readouterr().out


def test_a_part_payment_is_recorded_and_the_invoice_stays_approved(synced, fake_xero):
    fake_xero.pay(synced.xero_invoice_id, amount=Decimal("20.00"))

    xero_sync_task()

    synced.refresh_from_db()
    assert (synced.status, synced.amount_paid_cents) == ("approved", 2000)


def test_a_void_in_xero_voids_the_invoice_and_frees_the_appointment(synced, fake_xero):
    fake_xero.void(synced.xero_invoice_id)

    xero_sync_task()

    synced.refresh_from_db()
    assert synced.status == "voided"
    assert synced.void_reason == "Voided in Xero."
    invoice_raise(appointment=synced.appointment)  # may be invoiced again


def test_the_next_read_back_asks_only_for_what_changed_since(synced, fake_xero):
    xero_sync_task()
    first = OAuthConnection.objects.get().synced_until
    assert first is not None

    fake_xero.pay(synced.xero_invoice_id)
    counts = xero_sync_task()

    gets = [c for c in fake_xero.calls if c[2] == "GET" and c[3] == "/Invoices"]
    assert len(gets) == 2
    assert counts == {"read": 1, "paid": 1, "voided": 0}
    assert Invoice.objects.get(pk=synced.pk).status == "paid"


def test_voiding_in_nexus_voids_the_xero_copy(
    admin_user, synced, fake_xero, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invoice_void(invoice=synced, user=admin_user, reason="Billed to the wrong payer")

    assert fake_xero.invoices[synced.xero_invoice_id]["Status"] == "VOIDED"


def test_without_a_connection_the_read_back_does_nothing(db, capsys):
    call_command("xero_sync")

    assert "Read 0 invoice(s)" in capsys.readouterr().out
