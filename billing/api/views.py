from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from appointments.models import Appointment
from appointments.selectors import appointment_list
from audit.api.mixins import AuditedViewSetMixin
from audit.services import audit_change
from billing import services
from billing.api.serializers import InvoiceSerializer, VoidSerializer
from billing.models import Invoice
from billing.selectors import invoice_list
from nexus.api.filters import IdFilter
from nexus.api.pagination import PageNumberPagination
from nexus.api.permissions import request_user


class InvoiceFilter(filters.FilterSet):
    patient = IdFilter("patient")
    issued_from = filters.DateFilter(field_name="issue_date", lookup_expr="gte")
    issued_to = filters.DateFilter(field_name="issue_date", lookup_expr="lte")

    class Meta:
        model = Invoice
        fields = ["status"]


class InvoiceViewSet(
    AuditedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Invoice],
):
    """Invoices raised from completed appointments, with Xero's copy's sync status."""

    queryset = Invoice.objects.all()
    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilter
    pagination_class = PageNumberPagination
    scope_resource = "invoices"
    required_permissions = {
        "approve": ["billing.change_invoice"],
        "void": ["billing.void_invoice"],
    }

    def get_queryset(self) -> QuerySet[Invoice]:
        return invoice_list(user=request_user(self.request))

    def _fresh(self, invoice: Invoice) -> Response:
        return Response(InvoiceSerializer(self.get_queryset().get(pk=invoice.pk)).data)

    @extend_schema(
        request=None,
        responses={
            200: InvoiceSerializer,
            409: OpenApiResponse(description="Not a draft"),
        },
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        invoice = services.invoice_approve(invoice=self.get_object(), user=request_user(request))
        return self._fresh(invoice)

    @extend_schema(
        request=VoidSerializer,
        responses={
            200: InvoiceSerializer,
            409: OpenApiResponse(description="Already paid or voided"),
        },
    )
    @action(detail=True, methods=["post"])
    def void(self, request: Request, pk: str | None = None) -> Response:
        invoice = self.get_object()
        body = VoidSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        invoice = services.invoice_void(
            invoice=invoice, user=request_user(request), reason=body.validated_data["reason"]
        )
        return self._fresh(invoice)


class AppointmentInvoiceViewSet(viewsets.GenericViewSet[Invoice]):
    """Raise the invoice of a completed appointment."""

    queryset = Invoice.objects.all()
    serializer_class = InvoiceSerializer
    scope_resource = "invoices"

    @extend_schema(
        request=None,
        responses={
            201: InvoiceSerializer,
            404: OpenApiResponse(description="No such appointment"),
            409: OpenApiResponse(description="Not completed, or already invoiced"),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = request_user(request)
        appointment: Appointment = get_object_or_404(
            appointment_list(user=user), pk=kwargs["appointment_pk"]
        )
        invoice = services.invoice_raise(appointment=appointment, created_by=user)
        audit_change(
            request=request, record=invoice, view="invoice", created=True, detail={"status": 201}
        )
        data = InvoiceSerializer(invoice_list(user=user).get(pk=invoice.pk)).data
        return Response(data, status=status.HTTP_201_CREATED)
