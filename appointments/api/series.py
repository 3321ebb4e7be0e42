"""/api/v1/appointment-series/: preview, book, read and cancel repeat bookings."""

from datetime import datetime
from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from appointments.api.serializers import AppointmentBookSerializer, AppointmentSerializer
from appointments.models import AppointmentSeries
from appointments.recurrence import MAX_EVERY_WEEKS, MAX_OCCURRENCES, SeriesRule
from appointments.selectors import appointment_list
from appointments.series import appointment_series_book, appointment_series_cancel, series_preview
from audit.api.mixins import AuditedViewSetMixin
from nexus.api.fields import AwareDateTimeField
from nexus.api.permissions import request_user
from nexus.api.schema import ERROR_SCHEMA


class SeriesRuleSerializer(serializers.Serializer[SeriesRule]):
    every_weeks = serializers.IntegerField(min_value=1, max_value=MAX_EVERY_WEEKS)
    count = serializers.IntegerField(
        min_value=1, max_value=MAX_OCCURRENCES, required=False, help_text="How many times."
    )
    until = serializers.DateField(
        required=False, help_text="The last day (clinic-local) an occurrence may fall on."
    )

    def validate(self, attrs: dict[str, Any]) -> SeriesRule:
        if ("count" in attrs) == ("until" in attrs):
            raise serializers.ValidationError("Give either count or until, not both.")
        return SeriesRule(**attrs)


@extend_schema_field(SeriesRuleSerializer)
class SeriesRuleField(serializers.Field):
    """The rule as one field, its problems as one flat list ("count: ..."): the API's error
    shape holds a list of messages per field, not nested objects."""

    def to_internal_value(self, data: Any) -> SeriesRule:
        if not isinstance(data, dict):
            self.fail("invalid")
        rule = SeriesRuleSerializer(data=data)
        if rule.is_valid():
            return cast(SeriesRule, rule.validated_data)
        raise serializers.ValidationError(
            [
                message if name == "non_field_errors" else f"{name}: {message}"
                for name, messages in rule.errors.items()
                for message in messages
            ]
        )

    def to_representation(self, value: SeriesRule) -> dict[str, Any]:
        return value.as_dict()

    default_error_messages = {
        # Doubled braces: DRF formats the message.
        "invalid": 'Give the rule as {{"every_weeks": n, "count": n}} or {{"every_weeks": n, '
        '"until": "YYYY-MM-DD"}}.'
    }


class SeriesMoveSerializer(serializers.Serializer[None]):
    from_ = AwareDateTimeField(help_text="The start of an occurrence of the rule.")
    to = AwareDateTimeField(help_text="The time to book that occurrence at instead.")

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # "from" is a Python keyword
        return fields


@extend_schema_field(SeriesMoveSerializer(many=True))
class SeriesMovesField(serializers.Field):
    """Occurrences booked at another time: [{"from", "to"}], as {from: to}. Problems come
    as one flat list ("2: to: ..."), like the rule's."""

    default_error_messages = {"invalid": 'Give a list of {{"from": ..., "to": ...}}.'}

    def to_internal_value(self, data: Any) -> dict[datetime, datetime]:
        if not isinstance(data, list) or len(data) > MAX_OCCURRENCES:
            self.fail("invalid")
        moves = SeriesMoveSerializer(data=data, many=True)
        if moves.is_valid():
            return {move["from"]: move["to"] for move in moves.validated_data}
        # Errors by item: a dict keyed by index (newer DRF) or a list with one per item.
        errors = moves.errors
        by_item = errors.items() if isinstance(errors, dict) else enumerate(errors)
        raise serializers.ValidationError(
            [
                f"{int(i) + 1}: {message}"
                if name == "non_field_errors"
                else f"{int(i) + 1}: {name}: {message}"
                for i, item in by_item
                for name, messages in cast(dict[str, list[str]], item).items()
                for message in messages
            ]
        )

    def to_representation(self, value: dict[datetime, datetime]) -> list[dict[str, str]]:
        return [{"from": f.isoformat(), "to": t.isoformat()} for f, t in value.items()]


class SeriesBookSerializer(AppointmentBookSerializer):
    end = None  # type: ignore[assignment]  # every occurrence lasts the type's duration
    rule = SeriesRuleField()
    moves = SeriesMovesField(
        required=False,
        help_text="Book these occurrences at another time (a week whose time clashes).",
    )
    skip_conflicts = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Book the free times and leave out those that clash or fall outside "
        "working hours or in time off. Without it, any such time refuses the whole series.",
    )


class PreviewQuerySerializer(serializers.Serializer[None]):
    preview = serializers.BooleanField(required=False, default=False)


class OccurrenceSerializer(serializers.Serializer[None]):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    conflict = serializers.ChoiceField(
        choices=["slot_unavailable", "outside_working_hours", "time_off"],
        allow_null=True,
        help_text="Why this time cannot be booked as it stands, or null when it can.",
    )


class SeriesPreviewSerializer(serializers.Serializer[None]):
    occurrences = OccurrenceSerializer(many=True)


class SeriesRuleReadSerializer(serializers.Serializer[None]):
    every_weeks = serializers.IntegerField()
    count = serializers.IntegerField(required=False)
    until = serializers.DateField(required=False)


class SkippedSerializer(serializers.Serializer[None]):
    start = serializers.DateTimeField()
    conflict = serializers.CharField()


class AppointmentSeriesSerializer(serializers.Serializer[AppointmentSeries]):
    """A series as read: its rule in both shapes and its appointments, each with its own
    status. Built directly, as AppointmentSerializer is; `appointments` must be given."""

    id = serializers.IntegerField()
    patient = serializers.IntegerField()
    clinician = serializers.IntegerField()
    clinic = serializers.IntegerField()
    appointment_type = serializers.IntegerField()
    start = serializers.DateTimeField()
    rule = SeriesRuleReadSerializer()
    rrule = serializers.CharField(help_text="The rule as RFC 5545 RRULE text.")
    skipped = SkippedSerializer(many=True, help_text="Times left out when it was booked.")
    cancelled_from = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    appointments = AppointmentSerializer(many=True)

    def to_representation(self, series: AppointmentSeries) -> dict[str, Any]:
        tz = series.clinic.tz
        return {
            "id": series.pk,
            "patient": series.patient_id,
            "clinician": series.clinician_id,
            "clinic": series.clinic_id,
            "appointment_type": series.appointment_type_id,
            "start": series.start.astimezone(tz).isoformat(),
            "rule": SeriesRule.from_rrule(series.rule, tz).as_dict(),
            "rrule": series.rule,
            "skipped": series.skipped,
            "cancelled_from": (
                series.cancelled_from.astimezone(tz).isoformat() if series.cancelled_from else None
            ),
            "created_at": series.created_at.isoformat(),
            "appointments": AppointmentSerializer(self.context["appointments"], many=True).data,
        }


class SeriesCancelSerializer(serializers.Serializer[None]):
    from_ = AwareDateTimeField(
        help_text="The start of the first occurrence to cancel; later ones go too."
    )
    reason = serializers.CharField(max_length=250, required=False, default="")

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # "from" is a Python keyword
        return fields


SERIES_CONFLICT = OpenApiResponse(
    response={
        "type": "object",
        "required": ["detail", "code"],
        "properties": {
            **ERROR_SCHEMA["properties"],
            "clashes": {
                "type": "array",
                "description": "The times that cannot be booked, with why (series_conflict).",
                "items": {
                    "type": "object",
                    "properties": {
                        "start": {"type": "string", "format": "date-time"},
                        "end": {"type": "string", "format": "date-time"},
                        "conflict": {"type": "string"},
                    },
                },
            },
        },
    },
    description="Some times cannot be booked (code series_conflict, listed in `clashes`), "
    "or a time was taken while booking; nothing was booked.",
)


class AppointmentSeriesViewSet(
    AuditedViewSetMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[AppointmentSeries]
):
    queryset = AppointmentSeries.objects.select_related("clinic")
    serializer_class = AppointmentSeriesSerializer
    http_method_names = ["get", "post", "head", "options"]
    scope_resource = "appointments"  # a series is appointments booked together
    required_permissions = {
        "create": ["appointments.add_appointment"],
        "retrieve": ["appointments.view_appointment"],
        "cancel": ["appointments.change_appointment"],
    }

    def get_queryset(self) -> QuerySet[AppointmentSeries]:
        return AppointmentSeries.objects.select_related("clinic")

    def _read(self, series: AppointmentSeries, code: int = status.HTTP_200_OK) -> Response:
        appointments = appointment_list(user=request_user(self.request)).filter(series=series)
        body = AppointmentSeriesSerializer(series, context={"appointments": appointments}).data
        return Response(body, status=code)

    @extend_schema(
        request=SeriesBookSerializer,
        parameters=[
            OpenApiParameter(
                "preview",
                bool,
                description="List the times and what stands in their way; book nothing.",
            )
        ],
        responses={
            200: SeriesPreviewSerializer,
            201: AppointmentSeriesSerializer,
            409: SERIES_CONFLICT,
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = PreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        body = SeriesBookSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        if query.validated_data["preview"]:
            occurrences = series_preview(
                clinician=data["clinician"],
                clinic=data["clinic"],
                appointment_type=data["appointment_type"],
                start=data["start"],
                rule=data["rule"],
                override_working_hours=data["override_working_hours"],
                moves=data.get("moves"),
            )
            clinic = data["clinic"]
            return Response({"occurrences": [o.as_dict(clinic) for o in occurrences]})
        series = appointment_series_book(created_by=request_user(request), **data)
        return self._read(series, status.HTTP_201_CREATED)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._read(self.get_object())

    @extend_schema(request=SeriesCancelSerializer, responses=AppointmentSeriesSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        body = SeriesCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        series = appointment_series_cancel(
            series=self.get_object(),
            from_start=body.validated_data["from"],
            reason=body.validated_data["reason"],
        )
        return self._read(series)
