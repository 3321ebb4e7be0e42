"""Invoices in the staff pages: raised and approved from the appointment panel, voided by
admins only, listed on the chart and the Invoices page, printed as a PDF."""

import re
import zlib

import pytest
from django.test import Client

from audit.models import AuditEvent
from billing.models import Invoice
from billing.services import invoice_approve, invoice_raise
from tests.conftest import MONDAY, signed_in, sydney
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reception() -> Client:
    return signed_in("reception")


@pytest.fixture
def admin() -> Client:
    return signed_in("practice_admin")


def _panel(completed) -> str:
    return f"/invoices/appointment/{completed.pk}/"


def _pdf_text(body: bytes) -> str:
    """The text drawn on the PDF's pages (fpdf2 deflates each page's content stream)."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S)
    text = []
    for stream in streams:
        try:
            text.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            continue
    return "\n".join(text)


def test_the_completed_appointments_panel_offers_raise_and_raising_makes_a_draft(
    reception, completed
):
    before = reception.get(_panel(completed))
    assert "Raise invoice" in before.content.decode()

    response = reception.post(_panel(completed), {"do": "raise"}, HTTP_HX_REQUEST="true")

    invoice = Invoice.objects.get(appointment=completed)
    page = response.content.decode()
    assert response.status_code == 200
    assert invoice.status == "draft"
    assert invoice.number in page and "$95.50" in page and "Approve invoice" in page
    assert "Raise invoice" not in page
    assert AuditEvent.objects.filter(
        action="create", object_type="billing.invoice", object_id=str(invoice.pk)
    ).exists()


def test_raising_twice_shows_why_and_keeps_one_invoice(reception, completed):
    reception.post(_panel(completed), {"do": "raise"})

    response = reception.post(_panel(completed), {"do": "raise"})

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert Invoice.objects.filter(appointment=completed).count() == 1


def test_a_booked_appointment_cannot_be_invoiced_from_the_panel(reception, practice, patient):
    booked = AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 11),
    )

    shown = reception.get(_panel(booked)).content.decode()
    response = reception.post(_panel(booked), {"do": "raise"})

    assert "Raise invoice" not in shown
    assert 'role="alert"' in response.content.decode()
    assert not Invoice.objects.filter(appointment=booked).exists()


def test_approving_from_the_panel_sends_it_to_xero_and_shows_the_link(
    reception, completed, xero_connected, fake_xero, django_capture_on_commit_callbacks
):
    invoice = invoice_raise(appointment=completed)

    with django_capture_on_commit_callbacks(execute=True):
        reception.post(_panel(completed), {"do": "approve", "invoice": invoice.pk})

    invoice.refresh_from_db()
    [stored] = fake_xero.invoices.values()
    page = reception.get(_panel(completed)).content.decode()
    assert invoice.status == "approved"
    assert invoice.xero_invoice_id == stored["InvoiceID"]
    assert "In Xero" in page
    assert f"InvoiceID={stored['InvoiceID']}" in page


def test_reception_may_not_void_and_the_invoice_stays(reception, completed):
    invoice = invoice_raise(appointment=completed)

    shown = reception.get(_panel(completed)).content.decode()
    response = reception.post(
        _panel(completed), {"do": "void", "invoice": invoice.pk, "reason": "Wrong patient"}
    )

    assert "Void invoice" not in shown
    assert response.status_code == 403
    assert Invoice.objects.get(pk=invoice.pk).status == "draft"


def test_an_admin_voids_with_a_reason_and_the_appointment_can_be_invoiced_again(admin, completed):
    invoice = invoice_raise(appointment=completed)

    refused = admin.post(_panel(completed), {"do": "void", "invoice": invoice.pk, "reason": " "})
    assert "Say why the invoice is voided." in refused.content.decode()
    assert Invoice.objects.get(pk=invoice.pk).status == "draft"

    response = admin.post(
        _panel(completed), {"do": "void", "invoice": invoice.pk, "reason": "Wrong fee"}
    )

    page = response.content.decode()
    assert Invoice.objects.get(pk=invoice.pk).status == "voided"
    assert f"{invoice.number} voided: Wrong fee" in page
    assert "Raise invoice" in page


@pytest.mark.parametrize(
    "form",
    [
        {"do": "refund"},
        {"do": "approve", "invoice": "x"},
        {"do": "approve", "invoice": "99999999999999999999"},
        {"do": "approve"},
        {"do": "approve", "invoice": "424242"},
    ],
)
def test_bad_panel_posts_get_a_clear_4xx_and_change_nothing(reception, completed, form):
    invoice = invoice_raise(appointment=completed)

    response = reception.post(_panel(completed), form)

    assert response.status_code in (400, 404)
    assert Invoice.objects.get(pk=invoice.pk).status == "draft"


def test_the_chart_lists_the_patients_invoices_and_audits_the_read(reception, completed):
    invoice = invoice_raise(appointment=completed)

    chart = reception.get(f"/patients/{completed.patient_id}/").content.decode()
    card = reception.get(f"/invoices/patient/{completed.patient_id}/").content.decode()

    assert f"/invoices/patient/{completed.patient_id}/" in chart
    assert invoice.number in card and "$95.50" in card and "Draft" in card
    assert AuditEvent.objects.filter(
        action="read", object_type="billing.invoice", object_id=str(invoice.pk)
    ).exists()


def test_the_invoice_pdf_names_the_number_lines_and_total_not_the_patient_in_its_filename(
    reception, completed
):
    invoice = invoice_raise(appointment=completed)

    response = reception.get(f"/invoices/{invoice.pk}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="invoice-{invoice.number}.pdf"'
    assert response.content.startswith(b"%PDF-")
    text = _pdf_text(response.content)
    assert invoice.number in text
    assert "Podiatry consult" in text and "GST-free" in text
    assert "$95.50" in text
    assert "Ada Lovelace" in text


def test_someone_who_may_not_see_the_patient_cannot_print_their_invoice(completed):
    invoice = invoice_raise(appointment=completed)
    nobody = Client()
    nobody.force_login(UserFactory())

    assert nobody.get(f"/invoices/{invoice.pk}/pdf/").status_code == 403
    assert Client().get(f"/invoices/{invoice.pk}/pdf/").status_code == 302


def test_the_invoices_page_filters_by_status_in_a_fixed_number_of_queries(
    reception, practice, completed, django_assert_max_num_queries
):
    draft = invoice_raise(appointment=completed)
    for hour in (10, 11, 12, 13, 14):
        other = AppointmentFactory(
            patient=PatientFactory(),
            clinician=practice.clinician,
            clinic=practice.clinic,
            appointment_type=practice.consult,
            start=sydney(MONDAY, hour),
            status="completed",
        )
        invoice_approve(invoice=invoice_raise(appointment=other), user=None)
    reception.get("/invoices/")  # warm the session and permission caches

    with django_assert_max_num_queries(14):
        everything = reception.get("/invoices/").content.decode()
    approved = reception.get("/invoices/?status=approved").content.decode()

    assert everything.count('id="invoice-') == 6
    assert approved.count('id="invoice-') == 5
    assert draft.number not in approved
    assert reception.get("/invoices/?status=nonsense&page=999999999999999999999").status_code == 200
