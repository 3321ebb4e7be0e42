"""Approved invoices reach Xero once, through the outbox, within Xero's limits."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection as db_connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing.models import Invoice
from billing.services import LineInput, invoice_approve, invoice_create, invoice_raise
from integrations.models import ExternalContact, Message
from integrations.outbox import message_retry, outbox_relay
from integrations.xero.services import idempotency_key
from tests.billing.conftest import podiatry_consult
from tests.conftest import MONDAY, requires_postgres, sydney
from tests.factories import AppointmentFactory, AppointmentTypeFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def consult(db):
    return podiatry_consult()


def _completed(practice, consult, patient=None, day=0, hour=9):
    return AppointmentFactory(
        patient=patient or PatientFactory(),
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=consult,
        start=sydney(MONDAY + timedelta(days=day), hour),
        status="completed",
    )


def test_approving_pushes_the_invoice_with_its_contact_and_sets_the_xero_id(
    reception_api, practice, consult, xero_connected, fake_xero, django_capture_on_commit_callbacks
):
    appointment = _completed(practice, consult)
    invoice = reception_api.post(f"/api/v1/appointments/{appointment.pk}/invoice/").json()

    with django_capture_on_commit_callbacks(execute=True):
        response = reception_api.post(f"/api/v1/invoices/{invoice['id']}/approve/")

    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    detail = reception_api.get(f"/api/v1/invoices/{invoice['id']}/").json()
    assert detail["sync_status"] == "synced"
    [stored] = fake_xero.invoices.values()
    assert detail["xero_invoice_id"] == stored["InvoiceID"]
    assert stored["Type"] == "ACCREC"
    assert stored["InvoiceNumber"] == invoice["number"]
    assert stored["Total"] == 95.50
    assert stored["LineItems"][0]["ItemCode"] == "CONSULT"
    assert stored["LineItems"][0]["TaxType"] == "EXEMPTOUTPUT"
    assert stored["Contact"]["ContactNumber"] == f"P{appointment.patient_id}"
    # The push carried a key derived from the invoice.
    [put] = fake_xero.invoice_puts()
    assert put[4] == idempotency_key(Invoice.objects.get(pk=invoice["id"]))
    # The outbox row is the sync queue's entry, and sending it disclosed the patient.
    message = Message.objects.get(channel="xero")
    assert (message.status, message.provider_ref) == ("sent", stored["InvoiceID"])


def test_the_same_invoice_pushed_three_times_after_lost_answers_is_one_xero_invoice(
    practice, consult, xero_connected, fake_xero, django_capture_on_commit_callbacks, settings
):
    # Given Xero creates the invoice but the answer is lost, twice
    settings.NEXUS_OUTBOX_RETRY_SECONDS = 0
    fake_xero.drop_next_invoice_answers = 2
    invoice = invoice_raise(appointment=_completed(practice, consult))

    # When it is approved (first try) and the outbox retries it twice
    with django_capture_on_commit_callbacks(execute=True):
        invoice_approve(invoice=invoice, user=None)
    message = Message.objects.get(channel="xero")
    assert message.status == "queued"  # the lost answer is retried, not given up on
    for _ in range(2):
        Message.objects.filter(pk=message.pk).update(next_attempt_at=message.created_at)
        outbox_relay()

    # Then Xero saw the same Idempotency-Key three times and holds one invoice
    puts = fake_xero.invoice_puts()
    assert len(puts) == 3
    assert len({put[4] for put in puts}) == 1
    assert len(fake_xero.invoices) == 1
    invoice.refresh_from_db()
    assert invoice.xero_invoice_id == next(iter(fake_xero.invoices))
    assert Message.objects.get(pk=message.pk).status == "sent"


def test_a_stored_contact_is_used_then_an_exact_contact_number_never_a_name(
    practice, consult, xero_connected, fake_xero, django_capture_on_commit_callbacks
):
    ada = PatientFactory(given_name="Ada", family_name="Lovelace")
    namesake = PatientFactory(given_name="Ada", family_name="Lovelace")
    # Xero already knows the namesake under her own patient number.
    fake_xero._create_contacts(
        {"Contacts": [{"Name": "Ada Lovelace", "ContactNumber": f"P{namesake.pk}"}]}
    )

    with django_capture_on_commit_callbacks(execute=True):
        first = invoice_raise(appointment=_completed(practice, consult, patient=ada))
        invoice_approve(invoice=first, user=None)
        matched = invoice_raise(
            appointment=_completed(practice, consult, patient=namesake, hour=10)
        )
        invoice_approve(invoice=matched, user=None)
        again = invoice_raise(appointment=_completed(practice, consult, patient=ada, hour=11))
        invoice_approve(invoice=again, user=None)

    contacts = {c["ContactNumber"]: c["ContactID"] for c in fake_xero.contacts.values()}
    assert len(contacts) == 2  # one new contact for Ada, the namesake's reused
    by_invoice = {
        i["InvoiceNumber"]: i["Contact"]["ContactID"] for i in fake_xero.invoices.values()
    }
    assert by_invoice[first.number] == by_invoice[again.number] == contacts[f"P{ada.pk}"]
    assert by_invoice[matched.number] == contacts[f"P{namesake.pk}"]
    # Ada's third invoice used the stored id: only two contact searches were made.
    searches = [c for c in fake_xero.calls if c[2] == "GET" and c[3] == "/Contacts"]
    assert len(searches) == 2
    assert ExternalContact.objects.count() == 2


def test_a_validation_error_fails_the_push_with_xeros_message_and_staff_can_retry(
    reception_api,
    admin_user,
    practice,
    xero_connected,
    fake_xero,
    django_capture_on_commit_callbacks,
):
    unknown = AppointmentTypeFactory(name="Gait scan", price=Decimal("60"), xero_item_code="GAIT")
    invoice = invoice_raise(appointment=_completed(practice, unknown))

    with django_capture_on_commit_callbacks(execute=True):
        invoice_approve(invoice=invoice, user=None)

    detail = reception_api.get(f"/api/v1/invoices/{invoice.pk}/").json()
    assert detail["sync_status"] == "failed"
    assert detail["sync_error"] == "Item code 'GAIT' is not valid."
    assert detail["xero_invoice_id"] is None
    message = Message.objects.get(channel="xero")
    assert message.attempts == 1  # permanent: not retried on its own

    # The accountant adds the item in Xero; staff retry from the sync queue.
    fake_xero.item_codes.add("GAIT")
    with django_capture_on_commit_callbacks(execute=True):
        message_retry(message=message, user=admin_user)
    assert reception_api.get(f"/api/v1/invoices/{invoice.pk}/").json()["sync_status"] == "synced"


def test_a_429_is_waited_out_for_its_retry_after_and_the_push_arrives(
    practice, consult, xero_connected, fake_xero, django_capture_on_commit_callbacks
):
    from integrations.xero import limiter

    fake_xero.throttle_next = 2
    fake_xero.retry_after = 7
    invoice = invoice_raise(appointment=_completed(practice, consult))
    started = limiter.clock.now()

    with django_capture_on_commit_callbacks(execute=True):
        invoice_approve(invoice=invoice, user=None)

    invoice.refresh_from_db()
    assert invoice.xero_invoice_id
    assert fake_xero.refused_429 == 2
    # Two waits of Retry-After (7 s each, on the shared clock) before the calls went on.
    assert limiter.clock.now() - started >= 14


def test_without_a_connection_approved_invoices_stay_in_nexus(
    reception_api, practice, consult, fake_xero, django_capture_on_commit_callbacks
):
    invoice = invoice_raise(appointment=_completed(practice, consult))

    with django_capture_on_commit_callbacks(execute=True):
        invoice_approve(invoice=invoice, user=None)

    assert reception_api.get(f"/api/v1/invoices/{invoice.pk}/").json()["sync_status"] == "local"
    assert not Message.objects.filter(channel="xero").exists()
    assert fake_xero.calls == []


def _hundred_approved(practice, consult) -> list[int]:
    """100 invoices approved in one go, their pushes queued but not yet sent."""
    patients = [PatientFactory() for _ in range(100)]
    ids = []
    for n, patient in enumerate(patients):
        invoice = invoice_raise(
            appointment=_completed(practice, consult, patient=patient, day=n // 8, hour=9 + n % 8)
        )
        invoice_approve(invoice=invoice, user=None)
        ids.append(invoice.pk)
    return ids


def _assert_all_arrived_within_limits(fake_xero, ids):
    assert len(fake_xero.invoices) == 100
    assert Invoice.objects.filter(pk__in=ids, xero_invoice_id__isnull=False).count() == 100
    keys = [put[4] for put in fake_xero.invoice_puts()]
    assert len(keys) == len(set(keys)) == 100  # no duplicates
    assert fake_xero.peak_per_minute <= 60
    assert fake_xero.peak_concurrent <= 5
    assert fake_xero.refused_429 == 0
    print(
        f"\nxero: pushes={len(keys)} calls={len(fake_xero.calls)} "
        f"peak/min={fake_xero.peak_per_minute} peak concurrent={fake_xero.peak_concurrent} "
        f"429s={fake_xero.refused_429}"
    )


def test_a_hundred_approved_invoices_arrive_within_xeros_limits(
    practice, consult, xero_connected, fake_xero
):
    ids = _hundred_approved(practice, consult)

    while outbox_relay(limit=50):
        pass

    _assert_all_arrived_within_limits(fake_xero, ids)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_hundred_invoices_pushed_by_eight_workers_at_once_stay_within_limits(
    practice, consult, xero_connected, fake_xero, settings
):
    # Given 100 approved invoices whose pushes wait in the outbox (no worker yet)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from nexus.celery import app

    app.conf.task_always_eager = False
    try:
        from unittest import mock

        with mock.patch("integrations.tasks.outbox_deliver_task.apply_async"):
            ids = _hundred_approved(practice, consult)
    finally:
        app.conf.task_always_eager = True
    fake_xero.delay = 0.02  # each call takes a moment, so calls overlap
    barrier = threading.Barrier(8)

    def worker(_: int) -> int:
        try:
            barrier.wait()
            sent = 0
            while batch := outbox_relay(limit=10):
                sent += batch
            return sent
        finally:
            db_connection.close()

    # When eight workers relay them at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        sent = sum(pool.map(worker, range(8)))

    # Then every invoice arrived once, and Xero never saw more than 60 calls in a minute
    # or more than 5 at once
    assert sent == 100
    _assert_all_arrived_within_limits(fake_xero, ids)


money_lines = st.lists(
    st.builds(
        LineInput,
        description=st.just("Service"),
        unit_price_cents=st.integers(min_value=1, max_value=300_000),
        quantity=st.integers(min_value=1, max_value=12),
        tax=st.sampled_from(["gst_free", "gst"]),
    ),
    min_size=1,
    max_size=4,
)


@hypothesis_settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=money_lines)
def test_what_xero_stores_matches_nexus_to_the_cent(
    practice, consult, xero_connected, fake_xero, django_capture_on_commit_callbacks, lines
):
    appointment = _completed(practice, consult, day=Invoice.objects.count())
    invoice = invoice_create(appointment=appointment, lines=lines)

    with django_capture_on_commit_callbacks(execute=True):
        invoice_approve(invoice=invoice, user=None)

    invoice.refresh_from_db()
    stored = fake_xero.invoices[invoice.xero_invoice_id]
    assert round(stored["SubTotal"] * 100) == invoice.subtotal_cents
    assert round(stored["TotalTax"] * 100) == invoice.gst_cents
    assert round(stored["Total"] * 100) == invoice.total_cents
    for row, line in zip(invoice.lines.order_by("position"), stored["LineItems"], strict=True):
        assert round(line["LineAmount"] * 100) == row.amount_cents
        assert round(line["TaxAmount"] * 100) == row.gst_cents
