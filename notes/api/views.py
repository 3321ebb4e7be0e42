from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from audit.api.mixins import AuditedViewSetMixin
from audit.models import AuditEvent
from audit.services import audit_change
from documents.api.serializers import DocumentSerializer
from nexus.api.filters import IdFilter
from nexus.api.permissions import request_user
from notes import services
from notes.ai import ai_draft_request
from notes.api.serializers import (
    AddendumSerializer,
    AiDraftRequestSerializer,
    AiJobSerializer,
    ClinicalNoteSerializer,
    ClinicalNoteUpdateSerializer,
    LetterRequestSerializer,
)
from notes.letters import letter_create
from notes.models import AiJob, ClinicalNote
from notes.selectors import note_list


class ClinicalNoteFilter(filters.FilterSet):
    patient = IdFilter("patient")
    appointment = IdFilter("appointment")
    author = IdFilter("author")

    class Meta:
        model = ClinicalNote
        fields = ["kind", "status"]


class ClinicalNoteViewSet(
    AuditedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[ClinicalNote],
):
    queryset = ClinicalNote.objects.all()
    serializer_class = ClinicalNoteSerializer
    filterset_class = ClinicalNoteFilter
    http_method_names = ["get", "post", "patch", "head", "options"]
    scope_resource = "notes"
    audit_detail_actions = {"addenda": AuditEvent.Action.CREATE}
    required_permissions = {
        "partial_update": ["notes.change_clinicalnote"],
        "sign": ["notes.sign_clinicalnote"],
        "addenda": ["notes.add_clinicalnote"],
        # Reception has neither: it never reads or writes clinical text.
        "draft": ["notes.change_clinicalnote", "notes.view_note_body"],
        # A letter prints the note's text and files it on the chart.
        "letter": ["notes.view_note_body", "documents.add_document"],
    }

    def get_queryset(self) -> QuerySet[ClinicalNote]:
        return note_list(user=request_user(self.request))

    def perform_create(self, serializer: ClinicalNoteSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.note_create(
            author=request_user(self.request),
            **serializer.validated_data,
        )

    def _respond(self, note: ClinicalNote, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(note).data, status=code)

    @extend_schema(request=ClinicalNoteUpdateSerializer, responses=ClinicalNoteSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        note = self.get_object()
        body = ClinicalNoteUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        note = services.note_update(note=note, by=request_user(request), **body.validated_data)
        return self._respond(note)

    @extend_schema(request=None, responses=ClinicalNoteSerializer)
    @action(detail=True, methods=["post"])
    def sign(self, request: Request, pk: str | None = None) -> Response:
        return self._respond(services.note_sign(note=self.get_object(), by=request_user(request)))

    @extend_schema(request=AddendumSerializer, responses={201: ClinicalNoteSerializer})
    @action(detail=True, methods=["post"])
    def addenda(self, request: Request, pk: str | None = None) -> Response:
        body = AddendumSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        addendum = services.note_add_addendum(
            note=self.get_object(), author=request_user(request), body=body.validated_data["body"]
        )
        return self._respond(addendum, status.HTTP_201_CREATED)

    @extend_schema(
        request=AiDraftRequestSerializer,
        responses={202: AiJobSerializer},
        description="Ask for an AI draft of your own draft note. The job runs in the "
        "background; poll GET /api/v1/ai-jobs/{id}/. The answer is written into the note's "
        "body and the note stays a draft until you sign it.",
    )
    @action(detail=True, methods=["post"])
    def draft(self, request: Request, pk: str | None = None) -> Response:
        body = AiDraftRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = ai_draft_request(
            note=self.get_object(), by=request_user(request), **body.validated_data
        )
        job.refresh_from_db()  # in-process, the job may have finished already
        self.audit_extra = {"ai_job": job.pk}
        return Response(AiJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=LetterRequestSerializer,
        responses={201: DocumentSerializer},
        description="Make a PDF letter from a signed note (409 on a draft), addressed to the "
        "patient, their referrer or their coordinator, on the clinic's letterhead. It is "
        "stored as the patient's document, category `letter`.",
    )
    @action(detail=True, methods=["post"])
    def letter(self, request: Request, pk: str | None = None) -> Response:
        body = LetterRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        document = letter_create(
            note=self.get_object(), to=body.validated_data["to"], by=request_user(request)
        )
        audit_change(request=request, record=document, view="letter", created=True)
        return Response(
            DocumentSerializer(document, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class AiJobViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet[AiJob]):
    """An AI draft's state, for the clinician who asked for it (others get 404). It holds
    ids, counts and state, never clinical text."""

    queryset = AiJob.objects.all()
    serializer_class = AiJobSerializer
    scope_resource = "notes"
    required_permissions = {"retrieve": ["notes.view_note_body"]}

    def get_queryset(self) -> QuerySet[AiJob]:
        return AiJob.objects.filter(requested_by=request_user(self.request))
