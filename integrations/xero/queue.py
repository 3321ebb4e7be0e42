"""Queueing Xero work in the outbox, for the domain's services (billing) to call."""

from typing import TYPE_CHECKING

from accounts.models import User
from integrations.models import Message, OAuthConnection
from integrations.outbox import outbox_enqueue

if TYPE_CHECKING:
    from billing.models import Invoice


def xero_connection() -> OAuthConnection | None:
    return OAuthConnection.objects.filter(provider=OAuthConnection.Provider.XERO).first()


def xero_enqueue(*, kind: str, invoice: "Invoice", user: User | None) -> Message | None:
    """Queue a push of this invoice (in the caller's transaction); None when Xero is not
    connected: the invoice then stays in Nexus."""
    if xero_connection() is None:
        return None
    return outbox_enqueue(
        channel=Message.Channel.XERO,
        kind=kind,
        to="xero",
        body=str(invoice.pk),
        patient=invoice.patient,
        appointment=invoice.appointment,
        created_by=user,
    )
