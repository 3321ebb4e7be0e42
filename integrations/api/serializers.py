from rest_framework import serializers

from integrations.models import Message


class MessageSerializer(serializers.ModelSerializer[Message]):
    class Meta:
        model = Message
        fields = [
            "id",
            "status",
            "patient",
            "appointment",
            "channel",
            "kind",
            "to",
            "body",
            "attempts",
            "last_error",
            "provider_ref",
            "created_at",
            "sent_at",
            "delivered_at",
            "created_by",
        ]
        read_only_fields = fields


class SmsSendSerializer(serializers.Serializer[None]):
    body = serializers.CharField(max_length=2000, trim_whitespace=True)
