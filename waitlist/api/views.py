"""/api/v1/waitlist/: add a patient to the waitlist, list it with the offers made."""

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from audit.api.mixins import AuditedViewSetMixin
from nexus.api.filters import IdFilter
from nexus.api.permissions import request_user
from waitlist.api.serializers import WaitlistAddSerializer, WaitlistEntrySerializer
from waitlist.models import WaitlistEntry
from waitlist.selectors import waitlist_entry_list
from waitlist.services import waitlist_entry_add


class WaitlistFilter(filters.FilterSet):
    patient = IdFilter("patient")
    clinician = IdFilter("clinician")
    clinic = IdFilter("clinics", many=True)

    class Meta:
        model = WaitlistEntry
        fields = ["status"]


class WaitlistViewSet(
    AuditedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[WaitlistEntry],
):
    """Patients waiting for an earlier time. Freed times go to them by SMS (urgency, then
    waiting time); a YES through the SMS webhook books the offered time."""

    queryset = WaitlistEntry.objects.all()
    serializer_class = WaitlistEntrySerializer
    filterset_class = WaitlistFilter
    http_method_names = ["get", "post", "head", "options"]
    scope_resource = "waitlist"

    def get_queryset(self) -> QuerySet[WaitlistEntry]:
        return waitlist_entry_list(user=request_user(self.request))

    @extend_schema(request=WaitlistAddSerializer, responses={201: WaitlistEntrySerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = WaitlistAddSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        entry = waitlist_entry_add(created_by=request_user(request), **body.validated_data)
        entry = self.get_queryset().get(pk=entry.pk)
        return Response(WaitlistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)
