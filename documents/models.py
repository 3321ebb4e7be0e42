import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from patients.models import Patient


def document_key(instance: "Document", filename: str) -> str:
    """Object keys are made here, never from the uploaded name (security.md R29)."""
    return f"patients/{instance.patient_id}/{uuid.uuid4().hex}"


class Document(models.Model):
    """A file in a patient's record: referral, report, scan or photo.

    The bytes live in the default storage (S3 in production) under a server-made key; the
    name the uploader gave is kept only as sanitised metadata for downloads. Deleting is
    soft: the row and the object stay until `purge_documents` removes the object.
    """

    class Category(models.TextChoices):
        # SPEC §2's list. Migration 0002 moved "imaging" and "photo" to "image".
        REFERRAL = "referral", "Referral"
        REPORT = "report", "Report"
        IMAGE = "image", "Image or photo"
        CONSENT = "consent", "Consent form"
        LETTER = "letter", "Letter"
        OTHER = "other", "Other"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="documents")
    category = models.CharField(max_length=16, choices=Category.choices)
    description = models.CharField(max_length=200, blank=True)
    file = models.FileField(upload_to=document_key, max_length=200)
    original_name = models.CharField(max_length=150, help_text="Sanitised; for downloads only.")
    content_type = models.CharField(max_length=100, help_text="Sniffed from the bytes.")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    purged_at = models.DateTimeField(null=True, blank=True, help_text="Object removed.")
    legacy_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # Imported from FileMaker in a format outside today's upload allowlist (.doc, .tif,
    # .msg, .rtf): kept, and only ever downloaded as an attachment.
    legacy_format = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["patient", "-uploaded_at"])]
        constraints = [
            # The same file twice for one patient is a mistake: report it, store it once.
            models.UniqueConstraint(
                fields=["patient", "sha256"],
                condition=Q(deleted_at__isnull=True),
                name="document_unique_content_per_patient",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()} {self.pk}"

    @property
    def key(self) -> str:
        """Where the bytes are in storage."""
        return self.file.name or ""


def quarantine_key(instance: "QuarantinedUpload", filename: str) -> str:
    return f"quarantine/{instance.patient_id}/{uuid.uuid4().hex}"


class QuarantinedUpload(models.Model):
    """An upload the virus scanner flagged: kept apart from the patient's documents (never
    listed or downloadable there), for practice admins to review; its arrival is audited."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    file = models.FileField(upload_to=quarantine_key, max_length=200)
    original_name = models.CharField(max_length=150)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    signature = models.CharField(max_length=100, help_text="What the scanner found.")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    detected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-detected_at", "-id"]

    def __str__(self) -> str:
        return f"Quarantined upload {self.pk} ({self.signature})"
