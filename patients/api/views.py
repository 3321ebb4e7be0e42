from typing import cast

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from audit.api.mixins import AuditedViewSetMixin
from nexus.api.filters import FilterSet, IdFilter
from nexus.api.permissions import request_user
from nexus.api.throttling import AnonThrottle, SearchRateThrottle, UserThrottle
from nexus.api.viewsets import ReadCreateUpdateViewSet
from patients.api.serializers import CoordinatorSerializer, PatientSerializer, ReferrerSerializer
from patients.models import Coordinator, Patient, Referrer
from patients.selectors import patient_list, patient_search
from patients.services import patient_register, patient_update


class PatientFilter(FilterSet):
    search = filters.CharFilter(
        method="filter_search", label="Name, phone, email or Medicare number (prefix)"
    )

    home_clinic = IdFilter("home_clinic")
    referrer = IdFilter("referrer")
    coordinator = IdFilter("coordinator")

    class Meta:
        model = Patient
        fields = ["archived", "funding_type"]

    def filter_search(
        self, queryset: QuerySet[Patient], name: str, value: str
    ) -> QuerySet[Patient]:
        return patient_search(queryset, value)


class PatientViewSet(AuditedViewSetMixin, ReadCreateUpdateViewSet):
    queryset = Patient.objects.all()
    audit_patient_attr = "pk"
    throttle_classes = [AnonThrottle, UserThrottle, SearchRateThrottle]
    serializer_class = PatientSerializer
    filterset_class = PatientFilter
    scope_resource = "patients"

    def get_queryset(self) -> QuerySet[Patient]:
        return patient_list(user=request_user(self.request))

    def perform_create(self, serializer: PatientSerializer) -> None:  # type: ignore[override]
        serializer.instance = patient_register(
            created_by=request_user(self.request),
            **serializer.validated_data,
        )

    def perform_update(self, serializer: PatientSerializer) -> None:  # type: ignore[override]
        serializer.instance = patient_update(
            patient=cast(Patient, serializer.instance), **serializer.validated_data
        )


class ReferrerViewSet(ReadCreateUpdateViewSet):
    queryset = Referrer.objects.order_by("name", "id")
    serializer_class = ReferrerSerializer
    scope_resource = "referrers"


class CoordinatorViewSet(ReadCreateUpdateViewSet):
    queryset = Coordinator.objects.order_by("name", "id")
    serializer_class = CoordinatorSerializer
    scope_resource = "coordinators"
