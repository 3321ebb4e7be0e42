"""Reads of invoices, scoped to the requesting user."""

from django.db.models import Prefetch, QuerySet

from accounts.models import User
from billing.models import Invoice, InvoiceLine
from patients.selectors import patient_list


def invoice_list(*, user: User) -> QuerySet[Invoice]:
    # Invoices follow their patient: whoever may see the patient may see their bills.
    return (
        Invoice.objects.filter(patient__in=patient_list(user=user))
        .select_related("patient", "push_message", "appointment__clinic")
        .prefetch_related(Prefetch("lines", queryset=InvoiceLine.objects.order_by("position")))
        .order_by("-issue_date", "-id")
    )


def invoices_for_appointment(*, user: User, appointment_id: int) -> QuerySet[Invoice]:
    return invoice_list(user=user).filter(appointment_id=appointment_id)


def invoices_for_patient(*, user: User, patient_id: int) -> QuerySet[Invoice]:
    return invoice_list(user=user).filter(patient_id=patient_id)
