from rest_framework import serializers

from integrations.models import Message, OAuthConnection


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
            "cc",
            "subject",
            "body",
            "account",
            "documents",
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


class EmailAccountSerializer(serializers.ModelSerializer[OAuthConnection]):
    """A connected Gmail account: never its tokens."""

    email = serializers.CharField(source="account_id", read_only=True)

    class Meta:
        model = OAuthConnection
        fields = ["id", "email", "status", "default_for", "connected_at"]
        read_only_fields = fields


class EmailSendSerializer(serializers.Serializer[None]):
    account = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    to = serializers.CharField(max_length=254, trim_whitespace=True)
    cc = serializers.ListField(
        child=serializers.CharField(max_length=254), required=False, default=list, max_length=9
    )
    subject = serializers.CharField(max_length=200, trim_whitespace=True)
    body = serializers.CharField(max_length=50_000, trim_whitespace=True)
    documents = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=20
    )
