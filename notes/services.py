"""Writing, signing and correcting clinical notes."""

import structlog
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from appointments.models import Appointment
from nexus.errors import NoteSigned, PermissionDenied, ValidationFailed
from notes.models import ClinicalNote
from patients.models import Patient

log = structlog.get_logger(__name__)


@transaction.atomic
def note_create(
    *,
    patient: Patient,
    author: User,
    kind: str = ClinicalNote.Kind.PROGRESS,
    title: str = "",
    body: str = "",
    appointment: Appointment | None = None,
) -> ClinicalNote:
    if appointment is not None and appointment.patient_id != patient.pk:
        raise ValidationFailed("That appointment belongs to another patient.", field="appointment")
    if kind == ClinicalNote.Kind.ADDENDUM:
        raise ValidationFailed("Add an addendum to a signed note instead.", field="kind")
    note = ClinicalNote.objects.create(
        patient=patient, author=author, kind=kind, title=title, body=body, appointment=appointment
    )
    log.info("note.created", note_id=note.pk, patient_id=patient.pk)
    return note


def _lock(note: ClinicalNote) -> ClinicalNote:
    return ClinicalNote.objects.select_for_update().get(pk=note.pk)


@transaction.atomic
def note_update(
    *, note: ClinicalNote, by: User, title: str | None = None, body: str | None = None
) -> ClinicalNote:
    current = _lock(note)
    if current.status == ClinicalNote.Status.SIGNED:
        raise NoteSigned()
    if current.author_id != by.pk:
        raise PermissionDenied("Only the author can edit a draft note.")
    if title is not None:
        current.title = title
    if body is not None:
        current.body = body
    current.save()
    return current


@transaction.atomic
def note_sign(*, note: ClinicalNote, by: User) -> ClinicalNote:
    current = _lock(note)
    if current.status == ClinicalNote.Status.SIGNED:
        raise NoteSigned("This note is already signed.")
    if current.author_id != by.pk:
        raise PermissionDenied("Clinicians sign only their own notes.")
    if not current.body.strip():
        raise ValidationFailed("An empty note cannot be signed.", field="body")
    current.status = ClinicalNote.Status.SIGNED
    current.signed_by = by
    current.signed_at = timezone.now()
    current.content_sha256 = current.compute_sha256()
    current.save()
    log.info("note.signed", note_id=current.pk, patient_id=current.patient_id)
    return current


@transaction.atomic
def note_add_addendum(*, note: ClinicalNote, author: User, body: str) -> ClinicalNote:
    """Correct a signed note: a new draft linked to it, signed in its own right."""
    if note.status != ClinicalNote.Status.SIGNED:
        raise ValidationFailed("Edit the draft itself; addenda are for signed notes.")
    if not body.strip():
        raise ValidationFailed("Write the addendum text.", field="body")
    addendum = ClinicalNote.objects.create(
        patient_id=note.patient_id,
        appointment_id=note.appointment_id,
        author=author,
        kind=ClinicalNote.Kind.ADDENDUM,
        body=body,
        addendum_to=note,
    )
    log.info("note.addendum_created", note_id=addendum.pk, addendum_to=note.pk)
    return addendum
