"""Invoices in the staff pages: the chart's card, the appointment panel's line (raise,
approve, void), the practice's invoice list and the printable PDF. The rules are in
`billing.services`; these pages only ask and show."""

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods

from appointments.models import Appointment
from appointments.selectors import appointment_list
from audit.services import audit_change, audit_read
from billing import services
from billing.forms import ACTIONS, InvoiceActionForm
from billing.models import Invoice
from billing.pdf import invoice_pdf
from billing.selectors import invoice_list, invoices_for_appointment, invoices_for_patient
from nexus.errors import DomainError
from nexus.http import StaffRequest
from patients.selectors import patient_list

PAGE_SIZE = 50


@require_GET
@login_required
@permission_required("billing.view_invoice", raise_exception=True)
def patient_invoices(request: StaffRequest, patient_id: int) -> HttpResponse:
    """The chart's Invoices card: the patient's invoices, newest first."""
    patient = get_object_or_404(patient_list(user=request.user), pk=patient_id)
    invoices = list(invoices_for_patient(user=request.user, patient_id=patient.pk)[:20])
    audit_read(request=request, records=invoices, view="chart_invoices")
    return render(
        request, "billing/_patient_invoices.html", {"patient": patient, "invoices": invoices}
    )


def _appointment_panel(
    request: StaffRequest, appointment: Appointment, error: str = ""
) -> HttpResponse:
    invoices = list(invoices_for_appointment(user=request.user, appointment_id=appointment.pk))
    audit_read(request=request, records=invoices, view="appointment_invoice")
    current = next((i for i in invoices if i.status != Invoice.Status.VOIDED), None)
    return render(
        request,
        "billing/_appointment_invoice.html",
        {
            "appointment": appointment,
            "invoice": current,
            "voided": [i for i in invoices if i.status == Invoice.Status.VOIDED],
            "can_raise": current is None and appointment.status == Appointment.Status.COMPLETED,
            "error": error,
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("billing.view_invoice", raise_exception=True)
def appointment_invoice(request: StaffRequest, appointment_id: int) -> HttpResponse:
    """The appointment panel's invoice line; POST `do=raise|approve|void` (void needs a
    `reason` and the void permission, which only practice admins hold)."""
    appointment = get_object_or_404(appointment_list(user=request.user), pk=appointment_id)
    if request.method != "POST":
        return _appointment_panel(request, appointment)
    form = InvoiceActionForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Say raise, approve or void, and which invoice.", status=400)
    action = form.cleaned_data["do"]
    if not request.user.has_perm(ACTIONS[action]):
        return HttpResponse(status=403)
    try:
        if action == "raise":
            invoice = services.invoice_raise(appointment=appointment, created_by=request.user)
        else:
            invoice = get_object_or_404(
                invoices_for_appointment(user=request.user, appointment_id=appointment.pk),
                pk=form.cleaned_data["invoice"],
            )
            if action == "approve":
                invoice = services.invoice_approve(invoice=invoice, user=request.user)
            else:
                invoice = services.invoice_void(
                    invoice=invoice, user=request.user, reason=form.cleaned_data["reason"]
                )
    except DomainError as error:
        return _appointment_panel(request, appointment, error=str(error.detail))
    audit_change(
        request=request,
        record=invoice,
        view="appointment_invoice",
        created=action == "raise",
        detail={"do": action},
    )
    return _appointment_panel(request, appointment)


@require_GET
@login_required
@permission_required("billing.view_invoice", raise_exception=True)
def invoice_index(request: StaffRequest) -> HttpResponse:
    """Every invoice the user may see, newest first, filtered by status."""
    status = request.GET.get("status", "")
    invoices = invoice_list(user=request.user)
    if status in Invoice.Status.values:
        invoices = invoices.filter(status=status)
    else:
        status = ""
    page = Paginator(invoices, PAGE_SIZE).get_page(request.GET.get("page"))
    audit_read(request=request, records=page.object_list, view="invoice_list")
    return render(
        request,
        "billing/index.html",
        {"page": page, "status": status, "statuses": Invoice.Status.choices},
    )


@require_GET
@login_required
@permission_required("billing.view_invoice", raise_exception=True)
def invoice_download(request: StaffRequest, invoice_id: int) -> HttpResponse:
    """The invoice as a PDF, named by its number (never the patient's name)."""
    invoice = get_object_or_404(invoice_list(user=request.user), pk=invoice_id)
    audit_read(request=request, records=[invoice], view="invoice_pdf")
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="invoice-{invoice.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
