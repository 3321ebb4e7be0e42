import hashlib
import json
from datetime import datetime
from typing import Any

from django.conf import settings
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
    # Set when text came from a language model: {"model", "prompt_version", "source_note_ids"}.
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
        """Digest of what was signed: who, when, for whom, and the exact text."""
        content = {
            "id": self.pk,
            "patient": self.patient_id,
            "author": self.author_id,
            "kind": self.kind,
            "title": self.title,
            "body": self.body,
            "addendum_to": self.addendum_to_id,
            "ai_provenance": self.ai_provenance,
            "signed_by": self.signed_by_id,
            "signed_at": self.signed_at.isoformat() if self.signed_at else None,
        }
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()
