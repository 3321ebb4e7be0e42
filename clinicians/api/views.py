from datetime import timedelta

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from appointments.models import AppointmentType
from appointments.selectors import MAX_AVAILABILITY_DAYS, clinician_free_times
from clinicians.api.serializers import (
    AvailabilityQuerySerializer,
    ClinicianSerializer,
    ClinicSerializer,
    DisciplineSerializer,
    SlotSerializer,
)
from clinicians.models import Clinic, Clinician, Discipline
from clinicians.selectors import clinician_search
from nexus.api.filters import FilterSet, IdFilter
from nexus.api.viewsets import ReadCreateUpdateViewSet
from nexus.errors import ValidationFailed


class ClinicViewSet(ReadCreateUpdateViewSet):
    queryset = Clinic.objects.order_by("name", "id")
    serializer_class = ClinicSerializer
    scope_resource = "clinics"


class DisciplineViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Discipline]):
    queryset = Discipline.objects.order_by("name", "id")
    serializer_class = DisciplineSerializer
    scope_resource = "clinicians"


class ClinicianFilter(FilterSet):
    search = filters.CharFilter(
        method="filter_search", label="Name: each word starts the given or family name"
    )
    discipline = IdFilter("disciplines", many=True)
    clinic = IdFilter("clinics", many=True)

    class Meta:
        model = Clinician
        fields = ["accepting_new_patients", "listed_publicly", "is_active"]

    def filter_search(
        self, queryset: QuerySet[Clinician], name: str, value: str
    ) -> QuerySet[Clinician]:
        return clinician_search(queryset, value)

    @property
    def qs(self) -> QuerySet[Clinician]:
        # Filtering through a many-to-many can repeat a clinician.
        return super().qs.distinct()


class ClinicianViewSet(ReadCreateUpdateViewSet):
    queryset = Clinician.objects.prefetch_related("disciplines", "clinics").order_by(
        "family_name", "given_name", "id"
    )
    serializer_class = ClinicianSerializer
    filterset_class = ClinicianFilter
    scope_resource = "clinicians"

    def get_queryset(self) -> QuerySet[Clinician]:
        if self.action == "availability":
            return Clinician.objects.all()  # the slots need the row, not its disciplines
        return super().get_queryset()

    @extend_schema(
        parameters=[AvailabilityQuerySerializer],
        responses=SlotSerializer(many=True),
        summary="Free slots for an appointment type",
    )
    # No list filters here: its own `clinic` parameter means something else. Not paged
    # either (at most MAX_AVAILABILITY_DAYS of slots): the answer is a plain list.
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def availability(self, request: Request, pk: str | None = None) -> Response:
        clinician = self.get_object()
        query = AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["start"], query.validated_data["end"]
        if end < start:
            raise ValidationFailed("The end date is before the start date.", field="end")
        if end - start > timedelta(days=MAX_AVAILABILITY_DAYS):
            raise ValidationFailed(
                f"Ask for at most {MAX_AVAILABILITY_DAYS} days at a time.", field="end"
            )
        appointment_type = AppointmentType.objects.filter(
            pk=query.validated_data["appointment_type"], is_active=True
        ).first()
        if appointment_type is None:
            raise ValidationFailed("No such appointment type.", field="appointment_type")
        clinic = None
        if "clinic" in query.validated_data:
            clinic = Clinic.objects.filter(pk=query.validated_data["clinic"]).first()
            if clinic is None:
                raise ValidationFailed("No such clinic.", field="clinic")
        # Cached per clinician until their diary changes (appointments.selectors).
        slots = clinician_free_times(
            clinician=clinician,
            appointment_type=appointment_type,
            start_date=start,
            end_date=end,
            clinic=clinic,
        )
        return Response(slots)
