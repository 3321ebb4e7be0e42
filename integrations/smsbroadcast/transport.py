"""SMS through SMS Broadcast, or the console when no account is configured."""

import structlog
from django.conf import settings

from integrations.models import Message
from integrations.smsbroadcast.client import SmsBroadcastClient, provider_number, sms_parts
from integrations.transports import Transport, register

log = structlog.get_logger(__name__)


class SmsBroadcastTransport(Transport):
    channel = Message.Channel.SMS

    def __init__(self, client: SmsBroadcastClient) -> None:
        self.client = client

    def send(self, message: Message) -> str:
        # `ref` is the outbox row id: receipts and replies come back carrying it.
        return self.client.send(
            to=provider_number(message.to), message=message.text, ref=str(message.pk)
        )


class ConsoleSmsTransport(Transport):
    """Development without an account: records what would have gone out. Ids only in the
    log; the text is on the Messages page."""

    channel = Message.Channel.SMS

    def send(self, message: Message) -> str:
        log.info(
            "sms.console_send",
            message_id=message.pk,
            kind=message.kind,
            parts=sms_parts(message.text),
        )
        return f"console-{message.pk}"


@register(Message.Channel.SMS)
def sms_transport() -> Transport:
    if not settings.SMSBROADCAST_USERNAME:
        return ConsoleSmsTransport()
    return SmsBroadcastTransport(
        SmsBroadcastClient(
            api_url=settings.SMSBROADCAST_API_URL,
            username=settings.SMSBROADCAST_USERNAME,
            password=settings.SMSBROADCAST_PASSWORD,
            sender=settings.SMSBROADCAST_FROM,
            timeout=settings.SMSBROADCAST_TIMEOUT_SECONDS,
        )
    )
