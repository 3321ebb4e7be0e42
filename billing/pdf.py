"""An invoice as a PDF a patient or plan manager can be given (fpdf2: pure Python, no
system fonts or browser needed, so `make run` and the worker image print the same)."""

from fpdf import FPDF

from billing.models import Invoice
from billing.money import money

_MARGIN = 18


def _text(value: str) -> str:
    # The core PDF fonts speak Latin-1; anything else (an emoji in a name) prints as "?".
    return value.encode("latin-1", "replace").decode("latin-1")


def invoice_pdf(invoice: Invoice) -> bytes:
    """`invoice` with its lines, patient, payer and appointment's clinic loaded."""
    clinic = invoice.appointment.clinic
    pdf = FPDF(format="A4")
    pdf.set_title(f"Invoice {invoice.number}")
    pdf.set_author(_text(clinic.name))
    pdf.set_margins(_MARGIN, _MARGIN)
    pdf.add_page()

    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _text(clinic.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    if clinic.address:
        pdf.multi_cell(0, 5, _text(clinic.address), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)

    title = "TAX INVOICE" if invoice.gst_cents else "INVOICE"
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    patient = invoice.patient
    rows = [
        ("Invoice number", invoice.number),
        ("Issued", invoice.issue_date.strftime("%-d %B %Y")),
        ("Due", invoice.due_date.strftime("%-d %B %Y")),
        ("Bill to", invoice.payer_name),
        ("Patient", f"{patient.given_name} {patient.family_name}"),
        ("Status", invoice.get_status_display()),
    ]
    for label, value in rows:
        pdf.cell(40, 6, label)
        pdf.cell(0, 6, _text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)

    widths = (80, 20, 18, 30, 26)
    headings = ("Description", "Item", "Qty", "Unit price", "Amount")
    pdf.set_font("Helvetica", "B", 10)
    for width, heading in zip(widths, headings, strict=True):
        pdf.cell(width, 7, heading, border="B", align="L" if width == 80 else "R")
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for line in invoice.lines.all():
        cells = (
            line.description + ("" if line.tax == "gst" else " (GST-free)"),
            line.item_code,
            str(line.quantity),
            money(line.unit_price_cents),
            money(line.amount_cents),
        )
        for width, value in zip(widths, cells, strict=True):
            pdf.cell(width, 7, _text(value), align="L" if width == 80 else "R")
        pdf.ln()
    pdf.ln(3)
    totals = [("Subtotal", invoice.subtotal_cents), ("GST", invoice.gst_cents)]
    totals += [("Total", invoice.total_cents)]
    if invoice.amount_paid_cents:
        totals += [("Paid", invoice.amount_paid_cents)]
        totals += [("Amount due", invoice.total_cents - invoice.amount_paid_cents)]
    for label, amount in totals:
        pdf.set_font("Helvetica", "B" if label in ("Total", "Amount due") else "", 10)
        pdf.cell(sum(widths) - 26, 6, label, align="R")
        pdf.cell(26, 6, money(amount), align="R", new_x="LMARGIN", new_y="NEXT")
    if invoice.status == Invoice.Status.VOIDED:
        pdf.ln(6)
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(0, 8, _text(f"VOIDED: {invoice.void_reason}"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
