import json
import re
from datetime import date, timedelta

from django.db.models import QuerySet
from django.http import HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from appointments.models import AppointmentType
from appointments.selectors import (
    MAX_AVAILABILITY_DAYS,
    availability_subjects,
    clinician_free_times,
)
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
from nexus.api.renderers import FastJSONRenderer
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
            # The slots need the row, not its disciplines. Every clinician, as the one
            # statement of _availability_at_once reads them too: narrow both or neither.
            return Clinician.objects.all()
        return super().get_queryset()

    @extend_schema(
        parameters=[AvailabilityQuerySerializer],
        responses=SlotSerializer(many=True),
        summary="Free slots for an appointment type",
    )
    # No list filters here: its own `clinic` parameter means something else. Not paged
    # either (at most MAX_AVAILABILITY_DAYS of slots): the answer is a plain list.
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def availability(self, request: Request, pk: str | None = None) -> HttpResponseBase:
        at_once = self._availability_at_once(request, pk)
        if at_once is not None:
            return at_once
        # Anything else, the errors among them, is read and checked one step at a time.
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
        times = clinician_free_times(
            clinician_id=clinician.pk,
            type_id=appointment_type.pk,
            length=appointment_type.duration,
            start_date=start,
            end_date=end,
            clinic_id=clinic.pk if clinic is not None else None,
        )
        return Response(json.loads(times.json(not_before=timezone.now().timestamp())))

    def _availability_at_once(self, request: Request, pk: str | None) -> HttpResponse | None:
        """The answer to a plainly written request that names what exists, in one query
        and one cache read, written as the JSON it was cached as; None for any other
        request (a refusal among them), which availability() reads step by step and so
        answers as it always has.

        The same answer, byte for byte, as the steps give (tests/appointments/
        test_availability_api.py): the clinician read from the view's queryset, which is
        every clinician, and its object permissions checked; the parameters read as
        AvailabilityQuerySerializer reads them; the type active, the clinic there."""
        renderer = request.accepted_renderer
        if (
            not isinstance(renderer, JSONRenderer)
            or type(renderer) not in (JSONRenderer, FastJSONRenderer)
            or not renderer.compact
            or request.accepted_media_type != renderer.media_type  # `; indent=` and the like
        ):
            return None
        asked = _plain_availability_query(request.query_params)
        clinician_id = _plain_id(pk)
        if asked is None or clinician_id is None:
            return None
        start, end, type_id, clinic_id = asked
        if end < start or end - start > timedelta(days=MAX_AVAILABILITY_DAYS):
            return None
        subjects = availability_subjects(
            clinician_id=clinician_id, type_id=type_id, clinic_id=clinic_id
        )
        if subjects is None:
            return None
        clinician, length = subjects
        self.check_object_permissions(request, clinician)
        times = clinician_free_times(
            clinician_id=clinician_id,
            type_id=type_id,
            length=length,
            start_date=start,
            end_date=end,
            clinic_id=clinic_id,
        )
        return HttpResponse(
            times.json(not_before=timezone.now().timestamp()), content_type=renderer.media_type
        )


# What AvailabilityQuerySerializer reads to the same value: a day as YYYY-MM-DD, a whole
# number from 1 without leading zeros or signs, small enough for any key column.
_PLAIN_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PLAIN_ID = re.compile(r"[1-9][0-9]{0,8}")


def _plain_id(value: str | None) -> int | None:
    return int(value) if value is not None and _PLAIN_ID.fullmatch(value) else None


def _plain_day(value: str | None) -> date | None:
    if value is None or not _PLAIN_DAY.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _plain_availability_query(
    params: QueryDict,
) -> tuple[date, date, int, int | None] | None:
    """(start, end, appointment type, clinic) when every parameter is plainly written
    (the last of repeated ones, as the serializer reads them); None otherwise."""
    start, end = _plain_day(params.get("start")), _plain_day(params.get("end"))
    type_id = _plain_id(params.get("appointment_type"))
    if start is None or end is None or type_id is None:
        return None
    if "clinic" not in params:
        return start, end, type_id, None
    clinic_id = _plain_id(params.get("clinic"))
    if clinic_id is None:
        return None
    return start, end, type_id, clinic_id
