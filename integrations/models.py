"""The outbox every message to a patient goes through, the templates texts come from, and
the replies that come back.

A `Message` row is written in the same transaction as the change that causes it (a booking
writes its confirmation), so a rolled-back change leaves no message and a committed one
always has its row. Delivery happens after commit (integrations/outbox.py).
"""

from django.conf import settings
from django.db import models

from appointments.models import Appointment
from clinicians.models import Clinic
from nexus import crypto
from patients.models import Patient


class Message(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        # The worker died mid-call, so nobody knows whether the provider took it. Never
        # re-sent automatically: a second copy may reach the patient; staff decide.
        UNKNOWN = "unknown", "Outcome unknown"

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        XERO = "xero", "Xero"
        EMAIL = "email", "Email"

    class Kind(models.TextChoices):
        CONFIRMATION = "confirmation", "Booking confirmation"
        REMINDER = "reminder", "Reminder"
        MOVED = "moved", "Appointment moved"
        CANCELLED = "cancelled", "Appointment cancelled"
        ADHOC = "adhoc", "Message from staff"
        VERIFICATION = "verification", "Verification code"
        # A freed time offered to a waitlisted patient, and the "already taken" answer.
        WAITLIST_OFFER = "waitlist_offer", "Waitlist offer"
        WAITLIST_TAKEN = "waitlist_taken", "Waitlist offer taken"
        # Xero rows carry the invoice's id in `body` (no patient text).
        INVOICE_PUSH = "invoice_push", "Invoice to Xero"
        INVOICE_VOID = "invoice_void", "Void in Xero"

    # Statuses that need a person: shown first on the Messages page.
    NEEDS_ATTENTION = (Status.FAILED, Status.UNKNOWN)
    # A verification code opens a booking in the number's name for ten minutes, so its text
    # is kept encrypted (nexus.crypto): nobody reading the outbox (the Messages page, the
    # API, a copy of the database) can use a code sent to someone else.
    SEALED_KINDS = frozenset({Kind.VERIFICATION})
    SEALED_SHOWN = "A verification code, sent to this number only and never shown."

    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.SMS)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    to = models.CharField(max_length=254, help_text="E.164 (+61412345678), or an email address.")
    body = models.TextField(help_text="Stored here, never logged.")
    # Email only: the subject, the connected Gmail account it goes from, the patient
    # documents attached (read at send time, so the bytes are the stored ones).
    subject = models.CharField(max_length=200, blank=True)
    cc = models.CharField(max_length=1000, blank=True, help_text="Comma-separated addresses.")
    account = models.ForeignKey(
        "OAuthConnection",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="messages",
    )
    documents = models.ManyToManyField("documents.Document", blank=True, related_name="+")
    # Who or what caused it: the patient it concerns, the appointment, the staff member.
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    appointment = models.ForeignKey(
        Appointment, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    provider_ref = models.CharField(max_length=64, blank=True)
    provider_status = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The relay's question: which queued rows are due?
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["patient", "created_at"]),
            models.Index(fields=["appointment", "kind"]),
            models.Index(fields=["created_at", "id"]),
        ]
        constraints = [
            # Once per appointment and channel, whatever overlapping reminder runs try.
            models.UniqueConstraint(
                fields=["appointment", "channel"],
                condition=models.Q(kind="reminder"),
                name="message_one_reminder_per_appointment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def needs_attention(self) -> bool:
        return self.status in self.NEEDS_ATTENTION and self.handled_at is None

    @staticmethod
    def stored_body(kind: str, text: str) -> str:
        """`text` as the row keeps it: encrypted for SEALED_KINDS."""
        return crypto.encrypt(text) if kind in Message.SEALED_KINDS else text

    @property
    def text(self) -> str:
        """What the recipient gets: `body`, decrypted for SEALED_KINDS (for transports)."""
        return crypto.decrypt(self.body) if self.kind in self.SEALED_KINDS else self.body

    @property
    def shown_body(self) -> str:
        """What staff and the API see of the text: all of it, except a sealed one's."""
        return self.SEALED_SHOWN if self.kind in self.SEALED_KINDS else self.body


class MessageTemplate(models.Model):
    """A clinic's wording for one kind of message. Without a row the default text is used."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="message_templates")
    kind = models.CharField(max_length=20, choices=Message.Kind.choices)
    body = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["clinic", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "kind"], name="one_template_per_clinic_kind")
        ]

    def __str__(self) -> str:
        return f"{self.clinic}: {self.get_kind_display()}"


class InboundMessage(models.Model):
    """A reply from a patient's phone, and what Nexus did with it."""

    class Outcome(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed the appointment"
        CANCELLED = "cancelled", "Cancelled the appointment"
        STOPPED = "stopped", "Withdrew SMS consent"
        INBOX = "inbox", "Needs reception"
        BOOKED = "booked", "Booked a waitlist offer"
        TAKEN = "taken", "Waitlist offer already taken or lapsed"
        DECLINED = "declined", "Declined a waitlist offer"

    from_number = models.CharField(max_length=20, help_text="E.164 when it parsed.")
    to_number = models.CharField(max_length=20, blank=True)
    body = models.TextField(blank=True)
    ref = models.CharField(max_length=40, blank=True)
    # SMS Broadcast gives no id for a reply: a hash of what it sent is the idempotency key,
    # so the same webhook delivered twice is one row and one effect.
    dedupe_key = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField(auto_now_add=True)
    patient = models.ForeignKey(
        Patient, on_delete=models.SET_NULL, null=True, blank=True, related_name="sms_replies"
    )
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="sms_replies"
    )
    in_reply_to = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["outcome", "handled_at"])]

    def __str__(self) -> str:
        return f"Reply #{self.pk} ({self.outcome})"


class OAuthConnection(models.Model):
    """An outside account Nexus holds OAuth tokens for: a Xero organisation, a clinic's
    Gmail account. Tokens are encrypted at rest (nexus.crypto, NEXUS_ENCRYPTION_KEYS) and
    read and refreshed only through integrations/oauth.py."""

    class Provider(models.TextChoices):
        XERO = "xero", "Xero"
        GMAIL = "gmail", "Gmail"

    class Status(models.TextChoices):
        CONNECTED = "connected", "Connected"
        # The grant was revoked or expired (invalid_grant): its messages wait for a
        # practice admin to connect the account again.
        RECONNECT_NEEDED = "reconnect_needed", "Reconnect needed"
        # Disconnected on purpose: tokens revoked and erased, the row kept for the record.
        DISCONNECTED = "disconnected", "Disconnected"

    provider = models.CharField(max_length=10, choices=Provider.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONNECTED)
    # The provider's id for the account: Xero's tenantId, a Gmail address.
    account_id = models.CharField(max_length=254)
    account_name = models.CharField(max_length=200, blank=True)
    # The provider's id for the grant itself, when it has one (Xero's connection id).
    grant_id = models.CharField(max_length=64, blank=True)
    access_token = models.TextField(help_text="Encrypted.")
    refresh_token = models.TextField(help_text="Encrypted.")
    expires_at = models.DateTimeField()
    scopes = models.CharField(max_length=500)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    connected_at = models.DateTimeField(auto_now_add=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    refresh_count = models.PositiveIntegerField(default=0)
    # Gmail: the clinician whose own account this is (only they send from it); empty for
    # a clinic account that any staff member allowed to email may send from.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Gmail: empty for a clinic account; the staff member whose own account it is.",
    )
    # Gmail: the clinics whose email goes from this account unless another is chosen.
    default_for = models.ManyToManyField(Clinic, blank=True, related_name="+")
    # Where the last read-back got to (Xero: the If-Modified-Since of the next one).
    synced_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["provider", "account_name"]
        permissions = [("connect_own_gmail", "Can connect and disconnect their own Gmail account")]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "account_id"], name="oauth_one_connection_per_account"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()}: {self.account_name or self.account_id}"


class ExternalContact(models.Model):
    """Who a Nexus payer is in a connected account: a patient's or a plan manager's Xero
    ContactID, so the next invoice reuses the contact instead of looking it up again."""

    connection = models.ForeignKey(
        OAuthConnection, on_delete=models.CASCADE, related_name="contacts"
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    coordinator = models.ForeignKey(
        "patients.Coordinator", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    external_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(patient__isnull=True) ^ models.Q(coordinator__isnull=True),
                name="external_contact_one_payer",
            ),
            models.UniqueConstraint(
                fields=["connection", "patient"],
                condition=models.Q(patient__isnull=False),
                name="external_contact_one_per_patient",
            ),
            models.UniqueConstraint(
                fields=["connection", "coordinator"],
                condition=models.Q(coordinator__isnull=False),
                name="external_contact_one_per_coordinator",
            ),
        ]

    def __str__(self) -> str:
        return f"Contact {self.external_id}"


class ImportRun(models.Model):
    """One FileMaker import (integrations/filemaker): its options, progress and the
    reconciliation report. A dry run keeps no rows, so it has no ImportRun either."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    source = models.CharField(max_length=10, default="data-api")
    options = models.JSONField(default=dict, blank=True, help_text="--only, --since, batch size.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    balanced = models.BooleanField(
        null=True, help_text="Every layout's outcomes add up to its foundCount."
    )
    error = models.CharField(max_length=300, blank=True)
    report = models.JSONField(default=dict, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"FileMaker import {self.pk} ({self.get_status_display().lower()})"


class ImportCheckpoint(models.Model):
    """Where a run is in one layout: committed with each batch, so a killed run resumes at
    the first batch it had not committed, with the counts it had so far."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="checkpoints")
    layout = models.CharField(max_length=100)
    offset = models.PositiveIntegerField(default=0)
    done = models.BooleanField(default=False)
    state = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "layout"], name="import_checkpoint_one_per_layout"
            )
        ]

    def __str__(self) -> str:
        return f"{self.layout} at {self.offset}"


class ImportedRecord(models.Model):
    """A FileMaker record the import brought in (or merged): which Nexus row it became, a
    digest of the source record (a later run skips it when unchanged) and of the values
    written (a differing row was edited in Nexus since: a conflict, never overwritten)."""

    layout = models.CharField(max_length=100)
    legacy_id = models.CharField(max_length=64)
    object_id = models.BigIntegerField()
    source_digest = models.CharField(max_length=64)
    row_digest = models.CharField(max_length=64)
    merged = models.BooleanField(default=False)
    imported_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["layout", "legacy_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["layout", "legacy_id"], name="imported_record_one_per_legacy_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.layout} {self.legacy_id}"
