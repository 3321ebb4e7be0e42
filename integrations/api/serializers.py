from rest_framework import serializers

from integrations.gmail.services import gmail_may_send_from
from integrations.models import Message, OAuthConnection


class MessageSerializer(serializers.ModelSerializer[Message]):
    # A verification code's text is never shown (Message.SEALED_KINDS).
    body = serializers.CharField(source="shown_body", read_only=True)

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
    """A connected Gmail account: never its tokens. `owner` is the staff member whose own
    account it is (null: a clinic account); `can_send` whether the caller may send from it."""

    email = serializers.CharField(source="account_id", read_only=True)
    shared = serializers.SerializerMethodField()
    can_send = serializers.SerializerMethodField()

    class Meta:
        model = OAuthConnection
        fields = [
            "id",
            "email",
            "status",
            "owner",
            "shared",
            "can_send",
            "default_for",
            "connected_at",
        ]
        read_only_fields = fields

    def get_shared(self, account: OAuthConnection) -> bool:
        return account.owner_id is None

    def get_can_send(self, account: OAuthConnection) -> bool:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return account.status == OAuthConnection.Status.CONNECTED and gmail_may_send_from(
            account=account, user=user if getattr(user, "pk", None) else None
        )


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
