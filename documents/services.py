"""Storing, deleting, purging and checking patient documents."""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from audit.services import Target, audit_record
from documents.models import Document, QuarantinedUpload
from documents.scanning import scan_upload
from documents.validation import CheckedUpload, UploadRejected, check_upload
from nexus.errors import Conflict
from patients.models import Patient


class DuplicateDocument(Conflict):
    code = "duplicate_document"

    def __init__(self, existing: Document) -> None:
        super().__init__(
            f"This patient already has this exact file (document {existing.pk}, "
            f"{existing.original_name}, uploaded {existing.uploaded_at:%d %b %Y}).",
            field="file",
        )
        self.existing_id = existing.pk


def _live_duplicate(patient: Patient, sha256: str) -> Document | None:
    return Document.objects.filter(patient=patient, sha256=sha256, deleted_at__isnull=True).first()


def document_upload(
    *,
    patient: Patient,
    uploaded_by: User,
    upload: UploadedFile,
    category: str,
    description: str = "",
) -> Document:
    """Validate, then store the bytes under a new key, then record them. A rejected or
    duplicate file stores nothing; a failed insert removes the object it stored."""
    checked = check_upload(upload)
    verdict = scan_upload(upload)
    if verdict.infected:
        _quarantine(
            patient=patient,
            uploaded_by=uploaded_by,
            upload=upload,
            checked=checked,
            signature=verdict.signature,
        )
        raise UploadRejected(
            "The virus scanner flagged this file, so it was not added to the record; a "
            "practice admin has been told.",
            code="file_infected",
        )
    existing = _live_duplicate(patient, checked.sha256)
    if existing is not None:
        raise DuplicateDocument(existing)
    document = Document(
        patient=patient,
        category=category,
        description=description,
        original_name=checked.name,
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.sha256,
        uploaded_by=uploaded_by,
    )
    document.file.save(checked.name, upload, save=False)
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:
        # Someone uploaded the same file for this patient a moment ago.
        document.file.delete(save=False)
        existing = _live_duplicate(patient, checked.sha256)
        if existing is None:
            raise
        raise DuplicateDocument(existing) from None
    return document


def _quarantine(
    *,
    patient: Patient,
    uploaded_by: User,
    upload: UploadedFile,
    checked: CheckedUpload,
    signature: str,
) -> QuarantinedUpload:
    """Keep a flagged file apart from the record, for admins; audited (R30)."""
    held = QuarantinedUpload(
        patient=patient,
        original_name=checked.name,
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.sha256,
        signature=signature,
        uploaded_by=uploaded_by,
    )
    held.file.save(checked.name, upload, save=False)
    held.save()
    audit_record(
        request=None,
        action=AuditEvent.Action.CREATE,
        targets=[Target.of(held, "patient_id")],
        outcome=AuditEvent.Outcome.DENIED,
        detail={"reason": "malware", "signature": signature, "uploaded_by": uploaded_by.pk},
    )
    return held


def document_delete(*, document: Document, deleted_by: User) -> None:
    """Hide a document. Its object stays until purge_documents removes it."""
    if document.deleted_at is None:
        document.deleted_at = timezone.now()
        document.deleted_by = deleted_by
        document.save(update_fields=["deleted_at", "deleted_by"])


def documents_purge(*, deleted_before: datetime) -> int:
    """Remove the objects of documents deleted before a time; the rows stay as history."""
    purged = 0
    for document in Document.objects.filter(
        deleted_at__lt=deleted_before, purged_at__isnull=True
    ).iterator():
        document.file.storage.delete(document.key)
        document.purged_at = timezone.now()
        document.save(update_fields=["purged_at"])
        purged += 1
    return purged


@dataclass(frozen=True)
class IntegrityProblem:
    document_id: int
    problem: str  # "missing" or "hash mismatch"


def documents_verify() -> Iterator[IntegrityProblem]:
    """Re-read every stored object and compare it with the SHA-256 taken at upload."""
    for document in Document.objects.filter(purged_at__isnull=True).iterator():
        storage = document.file.storage
        if not storage.exists(document.key):
            yield IntegrityProblem(document.pk, "missing")
            continue
        digest = hashlib.sha256()
        with storage.open(document.key, "rb") as stored:
            for chunk in iter(lambda: stored.read(1024 * 1024), b""):
                digest.update(chunk)
        if digest.hexdigest() != document.sha256:
            yield IntegrityProblem(document.pk, "hash mismatch")
