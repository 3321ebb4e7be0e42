from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from django_filters.constants import EMPTY_VALUES
from rest_framework import mixins, serializers, viewsets

from audit.models import AuditEvent
from audit.selectors import auditevent_for_patient
from nexus.api.filters import AwareDateTimeFilter, IdFilter
from nexus.api.pagination import CursorPagination


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "actor",
            "token",
            "action",
            "object_type",
            "object_id",
            "patient",
            "object_ids",
            "patient_ids",
            "outcome",
            "ip",
            "user_agent",
            "request_id",
            "detail",
            "hash",
        ]


class PatientEventsFilter(IdFilter):
    """Events about a patient: naming them, or listing them among a page's patients."""

    def filter(self, qs: QuerySet[AuditEvent], value: Any) -> QuerySet[AuditEvent]:
        if value in EMPTY_VALUES:
            return qs
        return qs & auditevent_for_patient(patient_id=int(value))


class AuditEventFilter(filters.FilterSet):
    patient = PatientEventsFilter("patient", label="Who accessed this patient's record")
    actor = IdFilter("actor", label="What this staff member accessed")
    occurred_after = AwareDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = AwareDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["action", "outcome", "object_type"]


class AuditPagination(CursorPagination):
    ordering = ("-id",)


class AuditEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[AuditEvent]):
    """The audit trail, newest first. Read-only; practice admins only."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    pagination_class = AuditPagination
    scope_resource = "audit"
