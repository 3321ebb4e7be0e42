"""Invoices: what a clinic charges for an appointment, in integer cents.

Billing is its own app rather than part of `appointments`: an invoice has its own life
(numbering, approval, payment, voiding, a copy in Xero) that outlasts the appointment's,
and the appointment rules stay free of money.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from appointments.models import Appointment, AppointmentType
from patients.models import Coordinator, Patient


class BillingSettings(models.Model):
    """The practice's billing choices, one row (pk=1), and the invoice-number counter."""

    auto_invoice_on_completion = models.BooleanField(
        default=False, help_text="Raise a draft invoice when an appointment is completed."
    )
    payment_terms_days = models.PositiveSmallIntegerField(default=14)
    number_prefix = models.CharField(max_length=8, default="NX-")
    # Taken under a row lock, so numbers are unique and gapless within committed invoices.
    next_number = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name_plural = "billing settings"

    def __str__(self) -> str:
        return "Billing settings"


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        APPROVED = "approved", "Approved"
        PAID = "paid", "Paid"
        VOIDED = "voided", "Voided"

    class Payer(models.TextChoices):
        PATIENT = "patient", "Patient"
        COORDINATOR = "coordinator", "Plan manager / coordinator"

    TRANSITIONS: dict[str, tuple[str, ...]] = {
        Status.DRAFT: (Status.APPROVED, Status.VOIDED),
        Status.APPROVED: (Status.PAID, Status.VOIDED),
        Status.PAID: (),
        Status.VOIDED: (),
    }

    number = models.CharField(max_length=20, unique=True)
    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="invoices")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="invoices")
    payer_kind = models.CharField(max_length=12, choices=Payer.choices, default=Payer.PATIENT)
    payer_coordinator = models.ForeignKey(
        Coordinator, on_delete=models.PROTECT, null=True, blank=True, related_name="invoices"
    )
    payer_name = models.CharField(max_length=170)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    issue_date = models.DateField(help_text="The appointment's day in the clinic's zone.")
    due_date = models.DateField()
    subtotal_cents = models.PositiveIntegerField(default=0)
    gst_cents = models.PositiveIntegerField(default=0)
    total_cents = models.PositiveIntegerField(default=0)
    amount_paid_cents = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=250, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # Xero's copy: set by the push, updated by the payments read-back.
    xero_invoice_id = models.CharField(max_length=36, null=True, blank=True, unique=True)
    xero_status = models.CharField(max_length=12, blank=True)
    # The outbox row that pushes this invoice to Xero (its state is the sync status).
    push_message = models.ForeignKey(
        "integrations.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-issue_date", "-id"]
        permissions = [("void_invoice", "Can void an invoice")]
        indexes = [
            models.Index(fields=["patient", "issue_date"]),
            models.Index(fields=["status", "issue_date"]),
            models.Index(fields=["issue_date", "id"]),
        ]
        constraints = [
            # An appointment is invoiced at most once; a voided invoice frees it.
            models.UniqueConstraint(
                fields=["appointment"],
                condition=~Q(status="voided"),
                name="invoice_one_per_appointment",
            ),
            models.CheckConstraint(
                condition=Q(total_cents=F("subtotal_cents") + F("gst_cents")),
                name="invoice_total_is_subtotal_plus_gst",
            ),
            models.CheckConstraint(
                condition=Q(payer_kind="patient") | Q(payer_coordinator__isnull=False),
                name="invoice_coordinator_payer_named",
            ),
        ]

    def __str__(self) -> str:
        return f"Invoice {self.number} ({self.status})"

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.status]

    @property
    def sync_status(self) -> str:
        """Where Xero's copy stands: `local` (not sent: a draft, or no Xero connection),
        `pending`, `synced` or `failed` (needs staff: Xero refused it or the outcome of the
        last try is unknown)."""
        message = self.push_message
        if message is None:
            return "local"
        if message.status in ("sent", "delivered"):
            return "synced"
        if message.status in ("failed", "unknown"):
            return "failed"
        return "pending"

    @property
    def sync_error(self) -> str:
        return self.push_message.last_error if self.sync_status == "failed" else ""  # type: ignore[union-attr]


class InvoiceLine(models.Model):
    class Tax(models.TextChoices):
        # Most allied-health services are GST-free (GST Act s 38-10).
        GST_FREE = "gst_free", "GST-free"
        GST = "gst", "GST 10%"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=1)
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    description = models.CharField(max_length=200)
    item_code = models.CharField(max_length=30, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    unit_price_cents = models.PositiveIntegerField(help_text="Excluding GST.")
    tax = models.CharField(max_length=10, choices=Tax.choices, default=Tax.GST_FREE)
    amount_cents = models.PositiveIntegerField(help_text="quantity x unit price, excluding GST.")
    gst_cents = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["invoice", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_cents=F("quantity") * F("unit_price_cents")),
                name="invoice_line_amount_is_quantity_times_price",
            ),
            models.CheckConstraint(
                condition=Q(tax="gst") | Q(gst_cents=0),
                name="invoice_line_gst_free_has_no_gst",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.description} x{self.quantity}"
