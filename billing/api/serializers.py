from typing import Any

from rest_framework import serializers

from billing.models import Invoice, InvoiceLine


class InvoiceLineSerializer(serializers.ModelSerializer[InvoiceLine]):
    class Meta:
        model = InvoiceLine
        fields = [
            "position",
            "appointment_type",
            "description",
            "item_code",
            "quantity",
            "unit_price_cents",
            "tax",
            "amount_cents",
            "gst_cents",
        ]


class PayerSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=Invoice.Payer.choices)
    name = serializers.CharField()
    coordinator = serializers.IntegerField(allow_null=True)


class InvoiceSerializer(serializers.ModelSerializer[Invoice]):
    """An invoice with its lines; money in integer cents (GST included in the total)."""

    payer = serializers.SerializerMethodField()
    lines = InvoiceLineSerializer(many=True, read_only=True)
    sync_status = serializers.ChoiceField(
        choices=["local", "pending", "synced", "failed"], read_only=True
    )
    sync_error = serializers.CharField(read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "status",
            "appointment",
            "patient",
            "payer",
            "issue_date",
            "due_date",
            "lines",
            "subtotal_cents",
            "gst_cents",
            "total_cents",
            "amount_paid_cents",
            "xero_invoice_id",
            "sync_status",
            "sync_error",
            "created_at",
            "approved_at",
            "voided_at",
            "void_reason",
            "paid_at",
        ]
        read_only_fields = fields

    def get_payer(self, invoice: Invoice) -> dict[str, Any]:
        return PayerSerializer(
            {
                "kind": invoice.payer_kind,
                "name": invoice.payer_name,
                "coordinator": invoice.payer_coordinator_id,
            }
        ).data


class VoidSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=250)
