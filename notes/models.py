import hashlib
import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from appointments.models import Appointment
from patients.models import Patient


def _day(moment: datetime | None) -> str:
    # Notes belong to no clinic: their day is the practice's (TIME_ZONE).
    return f"{timezone.localtime(moment):%-d %b %Y}" if moment else "today"


class ClinicalNote(models.Model):
    class Kind(models.TextChoices):
        PROGRESS = "progress", "Progress note"
        SOAP = "soap", "SOAP note"
        INITIAL_ASSESSMENT = "initial_assessment", "Initial assessment"
        AT_REPORT = "at_report", "Assistive technology report"
        LETTER = "letter", "Letter"
        ADDENDUM = "addendum", "Addendum"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED = "signed", "Signed"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="notes")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="clinical_notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="clinical_notes"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PROGRESS)
    title = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.DRAFT)
    addendum_to = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="addenda"
    )
    # Set when text came from a language model (notes/ai.py): model, prompt_version,
    # source_note_ids, request_id, job, token usage. Stored beside the text, not signed.
    ai_provenance = models.JSONField(null=True, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    content_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    legacy_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("view_note_body", "Can read the text of clinical notes"),
            ("sign_clinicalnote", "Can sign clinical notes"),
        ]
        indexes = [models.Index(fields=["patient", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="draft")
                | (
                    models.Q(status="signed", signed_at__isnull=False, signed_by__isnull=False)
                    & ~models.Q(content_sha256="")
                ),
                name="clinical_note_signed_has_signature",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display().lower()})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Last line of defence behind the services: a signed note's row never changes.
        if getattr(self, "_signed_in_db", False):
            raise ValueError("A signed clinical note cannot be changed; add an addendum.")
        super().save(*args, **kwargs)
        self._signed_in_db = self.status == self.Status.SIGNED

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any, **kwargs: Any) -> "ClinicalNote":
        note = super().from_db(db, field_names, values, **kwargs)
        note._signed_in_db = note.status == cls.Status.SIGNED
        return note

    @property
    def name(self) -> str:
        """How people refer to a note: its kind and the day it was written ("SOAP note of
        3 Mar 2027"), never its database id. An addendum names the note it corrects, so lists
        should select `addendum_to` with the notes."""
        if self.addendum_to_id is not None and self.addendum_to is not None:
            return f"Addendum to the {self.addendum_to.name}"
        return f"{self.get_kind_display()} of {_day(self.created_at)}"

    def compute_sha256(self) -> str:
        """Digest of what was signed: who, when, for whom, and the exact final text. AI
        provenance is kept beside the text and is not part of it (issue 19): the key stays
        null so digests made before provenance existed still verify."""
        content = {
            "id": self.pk,
            "patient": self.patient_id,
            "author": self.author_id,
            "kind": self.kind,
            "title": self.title,
            "body": self.body,
            "addendum_to": self.addendum_to_id,
            "ai_provenance": None,
            "signed_by": self.signed_by_id,
            "signed_at": self.signed_at.isoformat() if self.signed_at else None,
        }
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


# The note formats an AI draft can be written in (notes/ai.py has a schema for each).
AI_DRAFT_FORMATS = [
    (kind.value, kind.label)
    for kind in (
        ClinicalNote.Kind.SOAP,
        ClinicalNote.Kind.PROGRESS,
        ClinicalNote.Kind.INITIAL_ASSESSMENT,
        ClinicalNote.Kind.AT_REPORT,
    )
]


class AiSettings(models.Model):
    """The practice's decision to send patient data to OpenAI for drafts, one row (pk=1).
    Off until a practice admin turns it on, which needs the vendor agreement recorded first
    (security.md R37: the feature refuses to run unless the agreement is signed and the
    practice enabled it). Without OPENAI_API_KEY the feature is off whatever this says."""

    class Retention(models.TextChoices):
        DEFAULT = "default", "Default (abuse monitoring keeps data up to 30 days)"
        ZDR = "zdr", "Zero Data Retention (approved by OpenAI)"
        MAM = "mam", "Modified Abuse Monitoring (approved by OpenAI)"

    drafting_enabled = models.BooleanField(
        default=False,
        help_text="Let clinicians ask for AI drafts of notes. Off: no button, nothing is sent.",
    )
    agreement_signed = models.BooleanField(
        "vendor agreement signed",
        default=False,
        help_text="A data processing agreement (or BAA) with OpenAI covers patient data.",
    )
    retention = models.CharField(max_length=8, choices=Retention.choices, default=Retention.DEFAULT)
    data_region = models.CharField(max_length=60, blank=True, help_text="e.g. US, EU.")
    app8_basis = models.TextField(
        "APP 8 basis",
        blank=True,
        help_text="Why this overseas disclosure is allowed (APP 8.1 steps or an exception).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "AI settings"
        verbose_name_plural = "AI settings"

    def __str__(self) -> str:
        return "AI settings"

    def clean(self) -> None:
        if self.drafting_enabled and not self.agreement_signed:
            raise ValidationError(
                {"drafting_enabled": "Record the signed vendor agreement before turning this on."}
            )

    @property
    def allows_drafting(self) -> bool:
        return self.drafting_enabled and self.agreement_signed

    @classmethod
    def current(cls) -> "AiSettings":
        # Read-only: the row is written when an admin first saves it (defaults otherwise).
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class AiJob(models.Model):
    """One request for an AI draft of a note: who asked, what went out (ids, never text),
    what came back (tokens, cost, request id) and how it ended. The clinician's shorthand is
    kept here so a failure loses none of their typing."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    note = models.ForeignKey(ClinicalNote, on_delete=models.CASCADE, related_name="ai_jobs")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    format = models.CharField(max_length=20, choices=AI_DRAFT_FORMATS)
    shorthand = models.TextField(blank=True)
    source_note_ids = models.JSONField(default=list, blank=True)
    # Documents whose description (never the file) went out with the notes.
    source_document_ids = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    model = models.CharField(max_length=80)
    prompt_version = models.CharField(max_length=40)
    request_id = models.CharField(max_length=120, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost_microdollars = models.PositiveIntegerField(
        default=0, help_text="US dollars x 1,000,000, from NEXUS_AI_PRICES."
    )
    error_code = models.CharField(max_length=40, blank=True)
    error = models.CharField(max_length=300, blank=True)
    # The draft's text before the AI's answer replaced it, so the clinician can discard it.
    body_before = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["requested_by", "created_at"])]

    def __str__(self) -> str:
        return f"AI draft ({self.get_status_display().lower()})"
