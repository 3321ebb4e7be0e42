"""The clinic's Gmail accounts, and email to patients and their referrers and coordinators.

Accounts are `OAuthConnection` rows (provider "gmail", account_id the address): tokens
encrypted at rest and refreshed single-flight by integrations/oauth.py. An email is an
outbox `Message` on channel "email", written in the caller's transaction and sent after
commit from its account (integrations/gmail/transport.py).
"""

import base64
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import make_msgid

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from clinicians.models import Clinic
from documents.models import Document
from integrations.gmail import client
from integrations.gmail.client import GmailError
from integrations.models import Message, OAuthConnection
from integrations.oauth import TokenSet, oauth_connection_save, oauth_fresh_token, oauth_tokens
from integrations.outbox import outbox_enqueue, outbox_schedule
from nexus import crypto
from nexus.errors import (
    EmailAccountUnavailable,
    NoEmailAddress,
    NoEmailConsent,
    PermissionDenied,
    ValidationFailed,
)
from patients.models import Patient

log = structlog.get_logger(__name__)

GMAIL = OAuthConnection.Provider.GMAIL
Status = OAuthConnection.Status
RECIPIENTS = ("patient", "referrer", "coordinator")
MAX_RECIPIENTS = 10


MANAGE = "integrations.change_oauthconnection"
CONNECT_OWN = "integrations.connect_own_gmail"


# --- who may use which account -----------------------------------------------------------
#
# A clinic account (no owner) is connected by a practice admin and any staff member allowed
# to email sends from it. A clinician's own account (owner set) is connected by that
# clinician and only they send from it: a letter "from" Dr Lee is written by Dr Lee, and the
# replies land in an inbox nobody else reads. Practice admins see every account and may
# disconnect any (someone leaves, a grant is misused) but do not send as a colleague.


def gmail_may_manage(user: User) -> bool:
    """Practice admins: connect clinic accounts, set defaults, see and disconnect any."""
    return user.has_perm(MANAGE)


def gmail_may_connect(user: User) -> bool:
    return user.has_perm(MANAGE) or user.has_perm(CONNECT_OWN)


def gmail_may_send_from(*, account: OAuthConnection, user: User | None) -> bool:
    return account.owner_id is None or (user is not None and account.owner_id == user.pk)


def gmail_usable(*, user: User | None) -> "QuerySet[OAuthConnection]":
    """The accounts `user` may send from (any status): the clinic's, and their own. With no
    user (reminders, confirmations) only the clinic's."""
    mine = Q(owner__isnull=True)
    if user is not None:
        mine |= Q(owner=user)
    return OAuthConnection.objects.filter(mine, provider=GMAIL)


def gmail_accounts(*, user: User) -> "list[OAuthConnection]":
    """The accounts `user` sees: every one for a practice admin; otherwise the clinic's and
    their own."""
    accounts = (
        OAuthConnection.objects.filter(provider=GMAIL)
        if gmail_may_manage(user)
        else gmail_usable(user=user)
    )
    return list(
        accounts.select_related("connected_by", "owner")
        .prefetch_related("default_for")
        .order_by("owner_id", "account_id")
    )


def _refuse_connect(tokens: TokenSet, reason: str) -> None:
    # Google granted access a moment ago: give it back, then say why not.
    try:
        client.revoke(tokens.refresh_token or tokens.access_token)
    except Exception:
        log.warning("gmail.revoke_failed")
    raise PermissionDenied(reason)


@transaction.atomic
def gmail_connect(
    *, tokens: TokenSet, email: str, user: User, personal: bool = False
) -> OAuthConnection:
    """Connect an account, or connect it again: its waiting messages go out now.

    `personal`: the user's own account (one each), else a clinic account. Connecting never
    moves an account between owners; a disconnected one may be connected afresh by anyone."""
    owner = user if personal else None
    if not (gmail_may_connect(user) if personal else gmail_may_manage(user)):
        raise PermissionDenied("You may not connect this kind of email account.")
    existing = (
        OAuthConnection.objects.select_for_update()
        .filter(provider=GMAIL, account_id=email)
        .exclude(status=Status.DISCONNECTED)
        .first()
    )
    if existing is not None and existing.owner_id != (owner.pk if owner else None):
        kind = "a clinic account" if existing.owner_id is None else "another person's own"
        _refuse_connect(tokens, f"{email} is already connected as {kind}; disconnect it first.")
    if personal:
        other = (
            OAuthConnection.objects.filter(provider=GMAIL, owner=user)
            .exclude(status=Status.DISCONNECTED)
            .exclude(account_id=email)
            .first()
        )
        if other is not None:
            _refuse_connect(
                tokens,
                f"You already have {other.account_id} connected; disconnect it before "
                "connecting another of your own.",
            )
    connection = oauth_connection_save(
        provider=GMAIL, account_id=email, account_name=email, tokens=tokens, user=user
    )
    connection.status = Status.CONNECTED
    connection.owner = owner
    connection.save(update_fields=["status", "owner"])
    if owner is not None:
        connection.default_for.clear()  # a clinic's default is a clinic account
    held = list(
        Message.objects.filter(
            account=connection, status=Message.Status.QUEUED, next_attempt_at__isnull=True
        ).values_list("pk", flat=True)
    )
    if held:
        Message.objects.filter(pk__in=held).update(
            next_attempt_at=timezone.now(), last_error="", updated_at=timezone.now()
        )
        outbox_schedule(message_ids=held)
    log.info(
        "gmail.connected",
        connection_id=connection.pk,
        released=len(held),
        user_id=user.pk,
        personal=personal,
    )
    return connection


def gmail_disconnect(*, connection: OAuthConnection, user: User) -> OAuthConnection:
    """Revoke the grant at Google and erase the tokens; the row stays for the record.
    A practice admin disconnects any account; anyone else only their own."""
    if not (gmail_may_manage(user) or (connection.owner_id == user.pk and gmail_may_connect(user))):
        raise PermissionDenied("Only its owner or a practice admin can disconnect this account.")
    if connection.status != Status.DISCONNECTED and connection.refresh_token:
        try:
            client.revoke(oauth_tokens(connection).refresh_token)
        except Exception:
            # Google may have revoked it already; Nexus forgets the tokens either way.
            log.warning("gmail.revoke_failed", connection_id=connection.pk)
    OAuthConnection.objects.filter(pk=connection.pk).update(
        status=Status.DISCONNECTED,
        access_token=crypto.encrypt(""),
        refresh_token=crypto.encrypt(""),
        expires_at=timezone.now(),
    )
    log.info("gmail.disconnected", connection_id=connection.pk, user_id=user.pk)
    connection.refresh_from_db()
    return connection


def gmail_mark_reconnect_needed(*, connection_id: int) -> None:
    OAuthConnection.objects.filter(pk=connection_id, status=Status.CONNECTED).update(
        status=Status.RECONNECT_NEEDED
    )
    log.warning("gmail.reconnect_needed", connection_id=connection_id)


def gmail_access_token(*, connection_id: int) -> str:
    """A current access token: refreshed single-flight when about to lapse. A grant Google
    no longer honours marks the account "reconnect needed" (GmailError with reconnect)."""
    try:
        return oauth_fresh_token(connection_id=connection_id, refresh=client.refresh).access_token
    except GmailError as error:
        if error.reconnect:
            gmail_mark_reconnect_needed(connection_id=connection_id)
        raise


def gmail_force_refresh(*, connection_id: int) -> None:
    """Gmail refused the access token: the next send refreshes it first."""
    OAuthConnection.objects.filter(pk=connection_id).update(expires_at=timezone.now())


# --- composing ---------------------------------------------------------------------------


def _address(raw: str, *, field: str) -> str:
    address = raw.strip()
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationFailed("Enter a valid email address.", field=field) from None
    return address


def email_recipient(*, patient: Patient, to: str) -> str:
    """Who `to` means: the patient (email consent needed), their referrer or coordinator
    (an address needed), or an address typed in."""
    if to == "patient":
        if not patient.email_consent:
            raise NoEmailConsent()
        if not patient.email:
            raise NoEmailAddress("This patient has no email address on file.", field="to")
        return patient.email
    if to in ("referrer", "coordinator"):
        who = patient.referrer if to == "referrer" else patient.coordinator
        if who is None:
            raise NoEmailAddress(f"This patient has no {to} on file.", field="to")
        if not who.email:
            raise NoEmailAddress(f"The patient's {to} has no email address on file.", field="to")
        return who.email
    address = _address(to, field="to")
    if patient.email and address.lower() == patient.email.lower() and not patient.email_consent:
        raise NoEmailConsent()
    return address


def _attachments(*, patient: Patient, document_ids: Sequence[int]) -> list[Document]:
    ids = list(dict.fromkeys(document_ids))
    documents = list(
        Document.objects.filter(patient=patient, pk__in=ids, deleted_at__isnull=True).order_by("pk")
    )
    if len(documents) != len(ids):
        raise ValidationFailed("Attach only this patient's current documents.", field="documents")
    total = sum(d.size for d in documents)
    if total > settings.GMAIL_MAX_ATTACHMENT_BYTES:
        limit = settings.GMAIL_MAX_ATTACHMENT_BYTES // (1024 * 1024)
        raise ValidationFailed(
            f"The attachments come to {total / (1024 * 1024):.1f} MB; Gmail takes at most "
            f"{limit} MB. Send them in more than one email.",
            field="documents",
        )
    return documents


def email_default_account(*, patient: Patient) -> OAuthConnection | None:
    """The connected account the patient's home clinic sends from by default."""
    if patient.home_clinic_id is None:
        return None
    return (
        OAuthConnection.objects.filter(
            provider=GMAIL,
            status=Status.CONNECTED,
            owner__isnull=True,
            default_for=patient.home_clinic_id,
        )
        .order_by("pk")
        .first()
    )


@transaction.atomic
def gmail_set_defaults(*, connection: OAuthConnection, clinic_ids: Sequence[int]) -> None:
    """This account becomes the default for these clinics (and no other account is)."""
    if connection.owner_id is not None and clinic_ids:
        raise ValidationFailed(
            "A clinician's own account cannot be a clinic's default; choose a clinic account.",
            field="clinics",
        )
    clinics = list(Clinic.objects.filter(pk__in=clinic_ids))
    for other in OAuthConnection.objects.filter(provider=GMAIL).exclude(pk=connection.pk):
        other.default_for.remove(*clinics)
    connection.default_for.set(clinics)


def email_sending_account(
    *, account_id: int | None, patient: Patient | None = None, user: User | None = None
) -> OAuthConnection | None:
    """The account an email from `user` goes from: the one asked for (if they may use it),
    else the patient's clinic's default, else the only connected one they may use. None
    only on a server with no Google client configured (the console backend)."""
    connected = gmail_usable(user=user)
    if account_id is not None:
        account = OAuthConnection.objects.filter(provider=GMAIL, pk=account_id).first()
        if account is None:
            raise ValidationFailed("There is no such email account.", field="account")
        if not gmail_may_send_from(account=account, user=user):
            raise PermissionDenied(
                "That is another staff member's own email account: send from a clinic "
                "account or your own.",
                field="account",
            )
        if account.status != Status.CONNECTED:
            raise EmailAccountUnavailable()
        return account
    default = email_default_account(patient=patient) if patient is not None else None
    if default is not None:
        return default
    live = list(connected.filter(status=Status.CONNECTED)[:2])
    if len(live) == 1:
        return live[0]
    if not live and not client.configured():
        return None
    raise ValidationFailed(
        "Choose the account to send from." if live else "Connect a Gmail account first.",
        field="account",
    )


@transaction.atomic
def email_send(
    *,
    patient: Patient,
    to: str,
    subject: str,
    body: str,
    account_id: int | None = None,
    cc: Sequence[str] = (),
    document_ids: Sequence[int] = (),
    created_by: User | None = None,
) -> Message:
    """Queue an email from a connected account; checked here, sent after commit."""
    subject, body = subject.strip(), body.strip()
    if not subject:
        raise ValidationFailed("Write a subject.", field="subject")
    if "\n" in subject or "\r" in subject:
        raise ValidationFailed("A subject is one line.", field="subject")
    if not body:
        raise ValidationFailed("Write a message.", field="body")
    address = email_recipient(patient=patient, to=to)
    copies = [_address(a, field="cc") for a in cc if a.strip()]
    if len(copies) >= MAX_RECIPIENTS:
        raise ValidationFailed(f"At most {MAX_RECIPIENTS - 1} copies.", field="cc")
    documents = _attachments(patient=patient, document_ids=document_ids)
    account = email_sending_account(account_id=account_id, patient=patient, user=created_by)
    message = outbox_enqueue(
        channel=Message.Channel.EMAIL,
        kind=Message.Kind.ADHOC,
        to=address,
        body=body,
        subject=subject[:200],
        cc=", ".join(copies),
        account_id=account.pk if account else None,
        patient=patient,
        created_by=created_by,
    )
    if documents:
        message.documents.set(documents)
    return message


def email_mime(message: Message) -> EmailMessage:
    """The RFC 2822 message: From the account, the body as text, the documents' bytes."""
    sender = message.account.account_id if message.account else settings.DEFAULT_FROM_EMAIL
    mime = EmailMessage()
    mime["From"] = sender
    mime["To"] = message.to
    if message.cc:
        mime["Cc"] = message.cc
    mime["Subject"] = message.subject
    mime["Message-ID"] = make_msgid(idstring=f"nexus-{message.pk}")
    mime.set_content(message.body)
    for document in message.documents.order_by("pk"):
        with document.file.storage.open(document.key, "rb") as stored:
            data = stored.read()
        maintype, _, subtype = document.content_type.partition("/")
        mime.add_attachment(
            data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=document.original_name,
        )
    return mime


def email_raw(message: Message) -> str:
    return base64.urlsafe_b64encode(email_mime(message).as_bytes()).decode()
