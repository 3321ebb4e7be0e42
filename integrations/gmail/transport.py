"""The outbox's email channel: Gmail from the message's account, or the console."""

import structlog

from integrations.gmail import client
from integrations.gmail.client import GmailError
from integrations.models import Message, OAuthConnection
from integrations.transports import Transport, TransportError, register
from patients.models import Patient

log = structlog.get_logger(__name__)

RECONNECT = "Waiting: the account {account} needs connecting again (Settings → Email accounts)."


def _consent_withdrawn(message: Message) -> bool:
    """Consent is read again at send time: an email to the patient's own address stops
    if they withdrew email consent after it was queued."""
    if message.patient_id is None:
        return False
    patient = Patient.objects.filter(pk=message.patient_id).only("email", "email_consent").first()
    return bool(
        patient
        and patient.email
        and patient.email.lower() == message.to.lower()
        and not patient.email_consent
    )


class GmailTransport(Transport):
    channel = Message.Channel.EMAIL

    def send(self, message: Message) -> str:
        from integrations.gmail.services import (
            email_raw,
            gmail_access_token,
            gmail_force_refresh,
        )

        if _consent_withdrawn(message):
            raise TransportError("The patient has withdrawn email consent.", permanent=True)
        account = message.account
        if account is None:
            raise TransportError("No email account to send from.", permanent=True)
        if account.status != OAuthConnection.Status.CONNECTED:
            raise TransportError(
                RECONNECT.format(account=account.account_id), permanent=False, hold=True
            )
        try:
            token = gmail_access_token(connection_id=account.pk)
            return client.send(access_token=token, raw=email_raw(message))
        except GmailError as error:
            if error.reconnect:
                raise TransportError(
                    RECONNECT.format(account=account.account_id), permanent=False, hold=True
                ) from error
            if error.stale_token:
                gmail_force_refresh(connection_id=account.pk)
            raise TransportError(
                error.reason, permanent=error.permanent, retry_after=error.retry_after
            ) from error


class ConsoleEmailTransport(Transport):
    """Development without a Google client: records what would have gone out. Ids and
    sizes only in the log; the text is on the Messages page."""

    channel = Message.Channel.EMAIL

    def send(self, message: Message) -> str:
        from integrations.gmail.services import email_raw

        if _consent_withdrawn(message):
            raise TransportError("The patient has withdrawn email consent.", permanent=True)
        log.info(
            "email.console_send",
            message_id=message.pk,
            account_id=message.account_id,
            raw_bytes=len(email_raw(message)),
        )
        return f"console-{message.pk}"


@register(Message.Channel.EMAIL)
def email_transport() -> Transport:
    if not client.configured():
        return ConsoleEmailTransport()
    return GmailTransport()
