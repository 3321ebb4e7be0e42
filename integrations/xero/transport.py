"""The outbox's Xero channel: a row's `body` is the invoice id, its kind the action."""

from integrations.models import Message
from integrations.transports import Transport, TransportError, register
from integrations.xero.client import XeroError


class XeroTransport(Transport):
    channel = Message.Channel.XERO

    def send(self, message: Message) -> str:
        from integrations.xero.services import xero_push_invoice, xero_void_invoice

        try:
            invoice_id = int(message.body)
            if message.kind == Message.Kind.INVOICE_VOID:
                return xero_void_invoice(invoice_id=invoice_id)
            return xero_push_invoice(invoice_id=invoice_id)
        except XeroError as error:
            raise TransportError(
                error.reason, permanent=error.permanent, retry_after=error.retry_after
            ) from error


@register(Message.Channel.XERO)
def _xero() -> Transport:
    return XeroTransport()
