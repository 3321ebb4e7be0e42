from collections.abc import Callable
from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from appointments import services
from appointments.api.serializers import (
    LIST_COLUMNS,
    AppointmentBookSerializer,
    AppointmentRow,
    AppointmentSerializer,
    AppointmentTypeSerializer,
    AppointmentUpdateSerializer,
    CancelSerializer,
    rows_representation,
)
from appointments.models import Appointment, AppointmentType
from appointments.selectors import appointment_list, appointment_list_rows, appointment_rows
from audit.api.mixins import AuditedViewSetMixin
from nexus.api.filters import AwareDateTimeFilter, FilterSet, IdFilter
from nexus.api.pagination import CursorPagination
from nexus.api.permissions import request_user

CHANGE = ["appointments.change_appointment"]


class AppointmentTypeViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[AppointmentType],
):
    queryset = AppointmentType.objects.order_by("name", "id")
    serializer_class = AppointmentTypeSerializer
    filterset_fields = ["bookable_online", "is_active"]
    scope_resource = "appointment-types"


class AppointmentFilter(FilterSet):
    start_after = AwareDateTimeFilter(field_name="start", lookup_expr="gte")
    start_before = AwareDateTimeFilter(field_name="start", lookup_expr="lt")
    clinician = IdFilter("clinician")
    patient = IdFilter("patient")
    clinic = IdFilter("clinic")

    class Meta:
        model = Appointment
        fields = ["status"]


class AppointmentPagination(CursorPagination):
    """Hands out the listed rows as AppointmentRow, so the audit trail can name them."""

    def paginate_queryset(  # type: ignore[override]
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        page = super().paginate_queryset(queryset, request, view)
        if page is None:
            return None
        # Rows read by appointment_rows() are AppointmentRow already; values() reads dicts.
        return [AppointmentRow(row) if type(row) is dict else row for row in page]


class AppointmentViewSet(
    AuditedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Appointment],
):
    queryset = Appointment.objects.all()
    serializer_class = AppointmentSerializer
    filterset_class = AppointmentFilter
    pagination_class = AppointmentPagination
    http_method_names = ["get", "post", "patch", "head", "options"]
    scope_resource = "appointments"
    required_permissions = {
        "partial_update": CHANGE,
        "confirm": CHANGE,
        "arrive": CHANGE,
        "complete": CHANGE,
        "cancel": CHANGE,
        "no_show": CHANGE,
        "undo": CHANGE,
    }

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The usual filters, each given once and valid, read from SQL compiled once per
        # set of filters (AppointmentRows): building and compiling the queryset and the
        # filter form cost about a third of the list's CPU (issue 16). Anything else, and
        # every error, goes through the filter backend as before.
        paginator = cast(AppointmentPagination, self.paginator)
        lookups = AppointmentFilter.plain_lookups(
            request.query_params,
            also=(paginator.cursor_query_param, paginator.page_size_query_param),
        )
        if lookups is None:
            return super().list(request, *args, **kwargs)
        rows = appointment_rows(
            user=request_user(request),
            columns=LIST_COLUMNS,
            lookups=lookups,
            row_type=AppointmentRow,
        )
        page = self.paginate_queryset(cast(QuerySet[Appointment], rows))
        # What AppointmentSerializer(page, many=True).data gives, without DRF's list
        # serializer around it (rows_representation).
        return self.get_paginated_response(rows_representation(page))

    def get_queryset(self) -> QuerySet[Appointment]:
        user = request_user(self.request)
        if self.action == "list":
            # Rows, not model instances: AppointmentSerializer reads either.
            rows = appointment_list_rows(user=user, columns=LIST_COLUMNS)
            return cast(QuerySet[Appointment], rows)
        return appointment_list(user=user)

    @extend_schema(request=AppointmentBookSerializer, responses={201: AppointmentSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = AppointmentBookSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        appointment = services.appointment_book(
            created_by=request_user(request), **serializer.validated_data
        )
        return Response(AppointmentSerializer(appointment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AppointmentUpdateSerializer, responses=AppointmentSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        appointment = self.get_object()
        serializer = AppointmentUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        override = data.pop("override_working_hours", False)
        notes = data.pop("notes", None)
        if data:
            data.setdefault("start", appointment.start)
            appointment = services.appointment_reschedule(
                appointment=appointment,
                override_working_hours=override,
                by=request_user(request),
                **data,
            )
        if notes is not None:
            appointment = services.appointment_update_notes(appointment=appointment, notes=notes)
        return Response(AppointmentSerializer(self.get_queryset().get(pk=appointment.pk)).data)

    def _transition(self, change: Callable[..., Appointment], **kwargs: Any) -> Response:
        appointment = change(appointment=self.get_object(), **kwargs)
        return Response(AppointmentSerializer(self.get_queryset().get(pk=appointment.pk)).data)

    @extend_schema(request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(services.appointment_confirm)

    @extend_schema(request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def arrive(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(services.appointment_arrive)

    @extend_schema(request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(services.appointment_complete)

    @extend_schema(request=CancelSerializer, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._transition(services.appointment_cancel, reason=body.validated_data["reason"])

    @extend_schema(request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request: Request, pk: str | None = None) -> Response:
        return self._transition(services.appointment_mark_no_show)

    @extend_schema(
        request=None,
        responses=AppointmentSerializer,
        description=(
            "Take back an arrival, a no-show or a completion marked by mistake: back to the "
            "status before it. Only on the appointment's day (in its clinic's zone); a no-show "
            "whose time has been booked since stays (409 slot_unavailable). Anything else "
            "answers 409 invalid_transition."
        ),
    )
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str | None = None) -> Response:
        appointment = self.get_object()
        undone = appointment.status
        updated = services.appointment_undo_status(appointment=appointment)
        self.audit_extra = {"undone": undone, "to": updated.status}
        return Response(AppointmentSerializer(self.get_queryset().get(pk=updated.pk)).data)
