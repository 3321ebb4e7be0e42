"""Billing in a real browser: reception completes an appointment, raises and approves its
invoice, sees it arrive in (the fake) Xero, and a payment read back marks it paid."""

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from appointments.models import Appointment
from billing.models import Invoice
from tests.billing.conftest import consult_visit
from tests.browser.conftest import sign_in, wait_for_htmx
from tests.factories import UserFactory

PASSWORD = "correct-horse-battery"


@pytest.fixture
def arrived(practice, patient) -> Appointment:
    """The billing tests' consultation, before reception marks it completed."""
    return consult_visit(practice, patient, status=Appointment.Status.ARRIVED)


def test_reception_invoices_a_visit_sees_it_in_xero_and_then_paid(
    page: Page, arrived, xero_connected, fake_xero, transactional_db
):
    UserFactory(role="reception", email="reception@nexus.test", password=PASSWORD)
    sign_in(page, "reception@nexus.test", PASSWORD)

    page.goto(f"/calendar/appointments/{arrived.pk}/")
    wait_for_htmx(page)
    expect(page.get_by_role("heading", name="Invoice")).to_have_count(0)
    page.get_by_role("button", name="Completed").click()
    page.wait_for_url(lambda url: "/appointments/" not in url)

    page.goto(f"/calendar/appointments/{arrived.pk}/")
    wait_for_htmx(page)
    page.get_by_role("button", name="Raise invoice").click()
    wait_for_htmx(page)
    panel = page.locator("#invoice-panel")
    expect(panel).to_contain_text("NX-000001")
    expect(panel).to_contain_text("$95.50")
    expect(panel).to_contain_text("Draft")

    page.get_by_role("button", name="Approve invoice").click()
    wait_for_htmx(page)
    expect(panel).to_contain_text("Approved")
    # The push leaves through the outbox after the approval commits; the panel looks again
    # every two seconds while it is on its way.
    expect(panel).to_contain_text("In Xero", timeout=15_000)
    [stored] = fake_xero.invoices.values()
    expect(page.get_by_role("link", name="Open in Xero")).to_have_attribute(
        "href", f"https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={stored['InvoiceID']}"
    )

    # The patient pays in Xero; the periodic read-back finds it.
    fake_xero.pay(stored["InvoiceID"])
    call_command("xero_sync")

    page.goto(f"/patients/{arrived.patient_id}/")
    wait_for_htmx(page)
    card = page.locator("#invoices-panel")
    expect(card).to_contain_text("NX-000001")
    expect(card).to_contain_text("Paid")
    page.get_by_role("link", name="Invoices", exact=True).click()
    expect(page.locator("table.invoice-table")).to_contain_text("Paid")
    assert Invoice.objects.get().status == "paid"
