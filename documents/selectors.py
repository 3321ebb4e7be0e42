from django.conf import settings
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.http.response import HttpResponseBase
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


def document_list(*, user: User) -> QuerySet[Document]:
    """Live documents of the patients this user may see."""
    if not user.has_perms(["patients.view_patient", "documents.view_document"]):
        return Document.objects.none()
    patients = patient_list(user=user)
    return Document.objects.filter(deleted_at__isnull=True, patient__in=patients)


def download_response(document: Document) -> HttpResponseBase:
    """Send the bytes as an attachment under the sanitised name: a short-lived presigned
    redirect on S3, or streamed from local disk in development."""
    storage = document.file.storage
    disposition = content_disposition_header(as_attachment=True, filename=document.original_name)
    if isinstance(storage, S3Storage):
        url = storage.url(
            document.key,
            parameters={
                "ResponseContentDisposition": disposition,
                "ResponseContentType": document.content_type,
            },
            expire=min(settings.NEXUS_DOCUMENT_URL_SECONDS, MAX_URL_SECONDS),
        )
        return HttpResponseRedirect(url)
    return FileResponse(
        storage.open(document.key, "rb"),
        as_attachment=True,
        filename=document.original_name,
        content_type=document.content_type,
    )
