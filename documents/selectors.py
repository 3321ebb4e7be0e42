from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

from accounts.models import User
from documents.models import Document
from patients.models import Patient
from patients.selectors import patient_list

# Presigned download links live no longer than this, whatever the setting says (R31).
MAX_URL_SECONDS = 300


def document_patient(*, user: User, patient_id: int) -> Patient:
    """The patient whose documents are asked for, if this user may see both; else 404,
    so nobody learns whether a record exists."""
    if not user.has_perms(["patients.view_patient", "documents.view_document"]):
        raise Http404
    patient = patient_list(user=user).filter(pk=patient_id).first()
    if patient is None:
        raise Http404
    return patient


def document_list(*, user: User, patient: Patient | None = None) -> QuerySet[Document]:
    """Live documents of the patients this user may see, or of `patient` alone: one the
    caller read through patient_list(user=...), so filtering on it directly spares
    compiling that list again as a subquery (the chart, issue 16)."""
    if not user.has_perms(["patients.view_patient", "documents.view_document"]):
        return Document.objects.none()
    live = Document.objects.filter(deleted_at__isnull=True)
    if patient is not None:
        return live.filter(patient=patient)
    return live.filter(patient__in=patient_list(user=user))


def document_presigned_url(*, document: Document) -> str | None:
    """A short-lived link to the bytes on S3, sent as an attachment under the sanitised
    name; None where files are on local disk (development), which must stream them."""
    storage = document.file.storage
    if not isinstance(storage, S3Storage):
        return None
    disposition = content_disposition_header(as_attachment=True, filename=document.original_name)
    return storage.url(
        document.key,
        parameters={
            "ResponseContentDisposition": disposition,
            "ResponseContentType": document.content_type,
        },
        expire=min(settings.NEXUS_DOCUMENT_URL_SECONDS, MAX_URL_SECONDS),
    )


def document_open(*, document: Document) -> IO[bytes]:
    """The stored bytes, for streaming from local disk."""
    return document.file.storage.open(document.key, "rb")


PANEL_SIZE = 50


@dataclass(frozen=True)
class DocumentPanel:
    """What the chart's documents panel shows: the newest documents (of one category when
    one is chosen) and whether this user may add more."""

    documents: list[Document]
    category: str
    can_upload: bool

    def context(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "document_categories": Document.Category.choices,
            "document_category": self.category,
            "can_upload": self.can_upload,
            "max_upload_mb": settings.NEXUS_DOCUMENT_MAX_MB,
        }


def document_panel(*, user: User, patient: Patient, category: str) -> DocumentPanel | None:
    """The documents panel for a patient, or None when this user may not see documents.
    An unknown category shows every category."""
    if not user.has_perm("documents.view_document"):
        return None
    documents = document_list(user=user, patient=patient).select_related("uploaded_by")
    if category in Document.Category.values:
        documents = documents.filter(category=category)
    return DocumentPanel(
        documents=list(documents[:PANEL_SIZE]),
        category=category,
        can_upload=user.has_perm("documents.add_document"),
    )
