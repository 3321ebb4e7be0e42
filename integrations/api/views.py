from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from audit.api.mixins import AuditedViewSetMixin
from audit.services import audit_change
from integrations.api.serializers import (
    EmailAccountSerializer,
    EmailSendSerializer,
    MessageSerializer,
    SmsSendSerializer,
)
from integrations.gmail.services import email_send, gmail_may_manage, gmail_usable
from integrations.models import Message, OAuthConnection
from integrations.selectors import message_list
from integrations.services import sms_send
from nexus.api.filters import IdFilter
from nexus.api.pagination import CursorPagination
from nexus.api.permissions import request_user
from patients.selectors import patient_list


class MessageFilter(filters.FilterSet):
    patient = IdFilter("patient")

    class Meta:
        model = Message
        fields = ["status", "channel", "kind"]


class MessagePagination(CursorPagination):
    ordering = ("-created_at", "-id")


class MessageViewSet(
    AuditedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Message],
):
    """The outbox: every message Nexus has sent or will send, with its delivery status."""

    queryset = Message.objects.all()
    serializer_class = MessageSerializer
    filterset_class = MessageFilter
    pagination_class = MessagePagination
    scope_resource = "messages"

    def get_queryset(self) -> QuerySet[Message]:
        return message_list(user=request_user(self.request)).prefetch_related("documents")


class PatientSmsViewSet(viewsets.GenericViewSet[Message]):
    """Send a patient an SMS. Needs their SMS consent and an Australian mobile."""

    queryset = Message.objects.all()
    serializer_class = MessageSerializer
    scope_resource = "messages"

    @extend_schema(
        request=SmsSendSerializer,
        responses={
            202: MessageSerializer,
            400: OpenApiResponse(description="No body, too long, or no mobile number"),
            404: OpenApiResponse(description="No such patient"),
            409: OpenApiResponse(description="The patient has not agreed to SMS"),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = request_user(request)
        patient = get_object_or_404(patient_list(user=user), pk=kwargs["patient_pk"])
        payload = SmsSendSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        message = sms_send(patient=patient, body=payload.validated_data["body"], created_by=user)
        audit_change(
            request=request, record=message, view="sms", created=True, detail={"status": 202}
        )
        message.refresh_from_db()
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)


class EmailAccountViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[OAuthConnection]
):
    """The Gmail accounts email can be sent from, with their status and owner: the clinic's
    (owner null) and, for a clinician, their own; a practice admin sees every one.
    `can_send` says whether the caller may send from it."""

    queryset = OAuthConnection.objects.filter(provider=OAuthConnection.Provider.GMAIL)
    serializer_class = EmailAccountSerializer
    pagination_class = None
    scope_resource = "messages"
    # Whoever may send a message may see which accounts it can go from.
    required_permissions = {
        "list": ["integrations.add_message"],
        "retrieve": ["integrations.add_message"],
    }

    def get_queryset(self) -> QuerySet[OAuthConnection]:
        user = request_user(self.request)
        accounts = (
            OAuthConnection.objects.filter(provider=OAuthConnection.Provider.GMAIL)
            if gmail_may_manage(user)
            else gmail_usable(user=user)
        )
        return accounts.prefetch_related("default_for").order_by("owner_id", "account_id")


class PatientEmailViewSet(viewsets.GenericViewSet[Message]):
    """Email a patient, their referrer or coordinator from a connected Gmail account."""

    queryset = Message.objects.all()
    serializer_class = MessageSerializer
    scope_resource = "messages"

    @extend_schema(
        request=EmailSendSerializer,
        responses={
            202: MessageSerializer,
            400: OpenApiResponse(description="Missing fields, no address, attachments too big"),
            404: OpenApiResponse(description="No such patient"),
            403: OpenApiResponse(description="The account is another staff member's own"),
            409: OpenApiResponse(description="No email consent, or the account needs reconnecting"),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = request_user(request)
        patient = get_object_or_404(
            patient_list(user=user).select_related("referrer", "coordinator"),
            pk=kwargs["patient_pk"],
        )
        payload = EmailSendSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        message = email_send(
            patient=patient,
            to=data["to"],
            subject=data["subject"],
            body=data["body"],
            account_id=data.get("account"),
            cc=data["cc"],
            document_ids=data["documents"],
            created_by=user,
        )
        audit_change(
            request=request, record=message, view="email", created=True, detail={"status": 202}
        )
        message.refresh_from_db()
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)
