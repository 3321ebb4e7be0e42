from typing import Any, NoReturn

from django.db.models import QuerySet
from django.http import FileResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from audit.api.mixins import AuditedViewSetMixin
from audit.models import AuditEvent
from documents.api.parsers import DocumentUploadParser
from documents.api.serializers import DocumentSerializer, DocumentUploadSerializer
from documents.models import Document
from documents.selectors import (
    document_list,
    document_open,
    document_patient,
    document_presigned_url,
)
from documents.services import document_delete, document_upload
from nexus.api.permissions import request_user
from nexus.api.throttling import AnonThrottle, UploadRateThrottle, UserThrottle


class DocumentFilter(filters.FilterSet):
    class Meta:
        model = Document
        fields = ["category"]


class _HiddenWhenForbidden:
    """Documents answer 404, not 403, to a signed-in user without access: nobody learns
    which patients or documents exist (issue: documents on S3)."""

    def permission_denied(
        self, request: Request, message: Any = None, code: Any = None
    ) -> NoReturn:
        if request.user and request.user.is_authenticated:
            raise exceptions.NotFound()
        raise exceptions.NotAuthenticated()


class PatientDocumentViewSet(
    _HiddenWhenForbidden,
    AuditedViewSetMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[Document],
):
    """A patient's documents: list them (newest first, filter by category) or upload one
    (multipart: file, category, description)."""

    queryset = Document.objects.all()
    serializer_class = DocumentSerializer
    filterset_class = DocumentFilter
    scope_resource = "documents"
    parser_classes = [DocumentUploadParser]
    throttle_classes = [AnonThrottle, UserThrottle, UploadRateThrottle]

    def get_queryset(self) -> QuerySet[Document]:
        patient = document_patient(user=request_user(self.request), patient_id=self._patient_id)
        return document_list(user=request_user(self.request)).filter(patient=patient)

    @property
    def _patient_id(self) -> int:
        return int(self.kwargs["patient_pk"])

    @extend_schema(
        request={"multipart/form-data": DocumentUploadSerializer},
        responses={
            201: DocumentSerializer,
            400: OpenApiResponse(description="Rejected: type, mismatch, name or content"),
            409: OpenApiResponse(description="This patient already has this exact file"),
            413: OpenApiResponse(description="Larger than NEXUS_DOCUMENT_MAX_MB"),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = request_user(request)
        patient = document_patient(user=user, patient_id=self._patient_id)
        upload = DocumentUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        document = document_upload(
            patient=patient,
            uploaded_by=user,
            upload=upload.validated_data["file"],
            category=upload.validated_data["category"],
            description=upload.validated_data.get("description", ""),
        )
        return Response(DocumentSerializer(document).data, status=status.HTTP_201_CREATED)


class DocumentViewSet(
    _HiddenWhenForbidden,
    AuditedViewSetMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[Document],
):
    """One document: its metadata, a download, or a (soft) delete."""

    queryset = Document.objects.all()
    serializer_class = DocumentSerializer
    scope_resource = "documents"
    audit_detail_actions = {"download": AuditEvent.Action.EXPORT}

    def get_queryset(self) -> QuerySet[Document]:
        return document_list(user=request_user(self.request))

    @extend_schema(
        request=None,
        responses={
            302: OpenApiResponse(
                description="Redirect to a presigned link valid for at most 300 s (S3)"
            ),
            200: OpenApiResponse(description="The file itself (local storage)"),
        },
    )
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str | None = None) -> HttpResponseBase:
        # The bytes as an attachment under the sanitised name: a short-lived presigned
        # redirect on S3, or streamed from local disk in development.
        document = self.get_object()
        url = document_presigned_url(document=document)
        if url is not None:
            return HttpResponseRedirect(url)
        return FileResponse(
            document_open(document=document),
            as_attachment=True,
            filename=document.original_name,
            content_type=document.content_type,
        )

    def perform_destroy(self, instance: Document) -> None:
        document_delete(document=instance, deleted_by=request_user(self.request))
