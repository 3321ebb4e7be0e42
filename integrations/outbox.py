"""Delivering outbox rows: claim, send, record, retry.

Rows are written by the caller's transaction (`outbox_enqueue`) and handed to a Celery task
after commit. Each send claims its row first with a conditional UPDATE (queued → sending),
committed before the provider is called, so two workers never send one row and a worker
that dies mid-call leaves `sending` behind. The sweep moves such rows to `unknown` once
their lease has passed; they are never re-sent automatically, because the provider may
already have delivered them.
"""

import math
import random
import time
from datetime import datetime, timedelta

import structlog
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from appointments.models import Appointment
from audit.models import AuditEvent
from audit.services import Target, audit_record
from integrations.models import Message
from integrations.transports import TransportError, transport_for
from nexus import crypto
from nexus.errors import InvalidTransition
from patients.models import Patient

log = structlog.get_logger(__name__)

Status = Message.Status
# Retries wait at most this long: a Celery countdown past the Redis visibility timeout
# (an hour) would be delivered again and again.
MAX_RETRY_DELAY = timedelta(minutes=30)
# A relay task sends at most this many rows, claiming a few at a time, for at most this
# long: well inside CELERY_TASK_SOFT_TIME_LIMIT even when the provider is slow.
RELAY_BATCH = 50
RELAY_CLAIM = 5
RELAY_SECONDS = 45.0
UNKNOWN_REASON = "The worker stopped during the send; the provider may or may not have it."


def outbox_enqueue(
    *,
    channel: str,
    kind: str,
    to: str,
    body: str,
    patient: Patient | None = None,
    appointment: Appointment | None = None,
    created_by: User | None = None,
    subject: str = "",
    cc: str = "",
    account_id: int | None = None,
) -> Message:
    """Write a message in the caller's transaction; it is delivered after that commits."""
    message = Message.objects.create(
        channel=channel,
        kind=kind,
        to=to,
        body=Message.stored_body(kind, body),
        subject=subject,
        cc=cc,
        account_id=account_id,
        patient=patient,
        appointment=appointment,
        created_by=created_by,
        next_attempt_at=timezone.now(),
    )
    outbox_schedule(message_ids=[message.pk])
    log.info("outbox.queued", message_id=message.pk, kind=kind, channel=channel)
    return message


def outbox_rotate_keys() -> int:
    """Re-encrypt with the first NEXUS_ENCRYPTION_KEYS key the sealed texts still to be sent
    (Message.SEALED_KINDS), so the old key can go; a sent one is never opened again."""
    waiting = Message.objects.select_for_update().filter(
        kind__in=Message.SEALED_KINDS, status__in=[Status.QUEUED, Status.SENDING]
    )
    rotated = 0
    for message in waiting.only("pk", "kind", "body").order_by("pk"):
        message.body = crypto.reencrypt(message.body)
        message.save(update_fields=["body"])
        rotated += 1
    return rotated


def outbox_schedule(*, message_ids: list[int], countdown: float | None = None) -> None:
    """Hand rows to the worker once the current transaction commits."""

    def enqueue() -> None:
        from integrations.tasks import outbox_deliver_task

        for message_id in message_ids:
            try:
                if countdown is None:
                    outbox_deliver_task.apply_async((message_id,))
                else:
                    outbox_deliver_task.apply_async((message_id,), countdown=countdown)
            except Exception:
                # Broker down, or (in-process) an unexpected error: the row stays queued
                # and the relay picks it up; the change that caused it is already saved.
                log.exception("outbox.enqueue_failed", message_id=message_id)

    transaction.on_commit(enqueue)


def _lease_until() -> datetime:
    return timezone.now() + timedelta(seconds=settings.NEXUS_OUTBOX_LEASE_SECONDS)


def _claim(message_id: int) -> Message | None:
    """queued → sending, for exactly one caller. A conditional UPDATE is atomic on both
    databases: a second worker's UPDATE finds the row no longer queued and changes nothing."""
    now = timezone.now()
    claimed = (
        Message.objects.filter(pk=message_id, status=Status.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(
            status=Status.SENDING,
            lease_until=_lease_until(),
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    )
    if not claimed:
        return None
    return Message.objects.get(pk=message_id)


def _claim_due(*, limit: int) -> list[int]:
    """Claim up to `limit` due queued rows at once (the relay)."""
    now = timezone.now()
    with transaction.atomic():
        due = Message.objects.filter(status=Status.QUEUED, next_attempt_at__lte=now).order_by(
            "next_attempt_at", "id"
        )
        if connection.vendor == "postgresql":
            # Two relays at once each take different rows instead of queueing on locks.
            # (SQLite takes the database write lock at BEGIN, which serialises them.)
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        Message.objects.filter(pk__in=ids, status=Status.QUEUED).update(
            status=Status.SENDING,
            lease_until=_lease_until(),
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    return ids


def outbox_deliver(*, message_id: int) -> str:
    """Send one row if it is still queued and due; answer its status afterwards."""
    message = _claim(message_id)
    if message is None:
        return "skipped"
    return _send(message)


def outbox_schedule_relay(*, messages: int) -> None:
    """After commit, hand `messages` due rows to relay tasks, RELAY_BATCH per task: a
    reminder run queues thousands of rows, and one task per row would cost a broker round
    trip each (5,000 took 17 s on Redis); relays claim their rows with SKIP LOCKED."""
    batches = math.ceil(messages / RELAY_BATCH)

    def enqueue() -> None:
        from integrations.tasks import outbox_relay_task

        for _ in range(batches):
            try:
                outbox_relay_task.apply_async()
            except Exception:
                log.exception("outbox.enqueue_failed", relay=True)

    if batches:
        transaction.on_commit(enqueue)


def outbox_relay(*, limit: int = RELAY_BATCH) -> int:
    """Send due queued rows: retries that came due, rows whose hand-off was lost (broker
    down, worker killed), and reminder batches. Claims a few rows at a time and stops after
    RELAY_SECONDS, so a slow provider never lets the task's time limit strike between a
    claim and its send (a claimed row that is never sent would end up `unknown`)."""
    started = time.monotonic()
    sent = 0
    while sent < limit and time.monotonic() - started < RELAY_SECONDS:
        ids = _claim_due(limit=min(RELAY_CLAIM, limit - sent))
        if not ids:
            break
        pending = list(Message.objects.filter(pk__in=ids).order_by("id"))
        try:
            while pending:
                _send(pending[0])
                pending.pop(0)
                sent += 1
        except SoftTimeLimitExceeded:
            # Not sent yet, so safe to hand back; the one in flight stays for the sweep.
            Message.objects.filter(
                pk__in=[m.pk for m in pending[1:]], status=Status.SENDING
            ).update(status=Status.QUEUED, attempts=F("attempts") - 1, lease_until=None)
            raise
    return sent


def _send(message: Message) -> str:
    # Consent is read again at the moment of sending: a STOP that arrived after the row was
    # queued still stops it.
    if (
        message.channel == Message.Channel.SMS
        and message.patient_id is not None
        and not Patient.objects.filter(pk=message.patient_id, sms_consent=True).exists()
    ):
        return _record_failure(
            message, TransportError("The patient has withdrawn SMS consent.", permanent=True)
        )
    if message.kind in Message.SEALED_KINDS:
        try:
            message.text  # noqa: B018 - whether it opens
        except ValueError:
            return _record_failure(
                message,
                TransportError(
                    "Its text is encrypted with a key no longer in NEXUS_ENCRYPTION_KEYS.",
                    permanent=True,
                ),
            )
    try:
        provider_ref = transport_for(message.channel).send(message)
    except TransportError as error:
        return _record_failure(message, error)
    _record_sent(message, provider_ref)
    return Status.SENT


def _disclosed(message: Message, outcome: str) -> None:
    if message.patient_id is None:
        return
    audit_record(
        request=None,
        action=AuditEvent.Action.DISCLOSE,
        targets=[Target("integrations.message", str(message.pk), message.patient_id)],
        detail={"channel": message.channel, "kind": message.kind, "outcome": outcome},
    )


@transaction.atomic
def _record_sent(message: Message, provider_ref: str) -> None:
    now = timezone.now()
    # From `unknown` too: if the sweep gave up on a slow call that then succeeded, the
    # provider's OK is the truth.
    Message.objects.filter(pk=message.pk, status__in=[Status.SENDING, Status.UNKNOWN]).update(
        status=Status.SENT,
        provider_ref=provider_ref[:64],
        sent_at=now,
        lease_until=None,
        last_error="",
        updated_at=now,
    )
    _disclosed(message, "sent")
    log.info("outbox.sent", message_id=message.pk, kind=message.kind, attempts=message.attempts)


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff with jitter: about base x 2^(attempt-1), capped, randomised so
    a provider outage does not end in every row retrying at the same second."""
    base = settings.NEXUS_OUTBOX_RETRY_SECONDS * 2 ** max(attempt - 1, 0)
    capped = min(base, MAX_RETRY_DELAY.total_seconds())
    return timedelta(seconds=capped * random.uniform(0.5, 1.0))  # noqa: S311 (not security)


def _record_failure(message: Message, error: TransportError) -> str:
    now = timezone.now()
    if error.hold:
        # Not an attempt: it waits, visibly (last_error), for the release that reschedules it.
        Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
            status=Status.QUEUED,
            last_error=error.reason,
            next_attempt_at=None,
            attempts=F("attempts") - 1,
            lease_until=None,
            updated_at=now,
        )
        log.info("outbox.held", message_id=message.pk, channel=message.channel)
        return Status.QUEUED
    final = error.permanent or message.attempts >= settings.NEXUS_OUTBOX_MAX_ATTEMPTS
    if final:
        Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
            status=Status.FAILED, last_error=error.reason, lease_until=None, updated_at=now
        )
        log.warning(
            "outbox.failed",
            message_id=message.pk,
            attempts=message.attempts,
            permanent=error.permanent,
        )
        return Status.FAILED
    delay = retry_delay(message.attempts)
    if error.retry_after is not None:
        delay = max(delay, timedelta(seconds=error.retry_after))
    Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
        status=Status.QUEUED,
        last_error=error.reason,
        next_attempt_at=now + delay,
        lease_until=None,
        updated_at=now,
    )
    log.info("outbox.retry", message_id=message.pk, attempts=message.attempts, delay=delay.seconds)
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        # In-process there is no timer: the next relay run (send_reminders, or the next
        # message queued) picks it up instead.
        outbox_schedule(message_ids=[message.pk], countdown=delay.total_seconds())
    return Status.QUEUED


def outbox_sweep() -> int:
    """Rows left `sending` past their lease: their worker died mid-call. Mark them unknown."""
    now = timezone.now()
    stuck = list(
        Message.objects.filter(status=Status.SENDING, lease_until__lt=now).values_list(
            "pk", "patient_id", "channel", "kind"
        )[:1000]
    )
    if not stuck:
        return 0
    with transaction.atomic():
        Message.objects.filter(
            pk__in=[row[0] for row in stuck], status=Status.SENDING, lease_until__lt=now
        ).update(status=Status.UNKNOWN, last_error=UNKNOWN_REASON, updated_at=now)
        # It may have reached the patient: the trail says so.
        audit_record(
            request=None,
            action=AuditEvent.Action.DISCLOSE,
            targets=[
                Target("integrations.message", str(pk), patient)
                for pk, patient, *_ in stuck
                if patient
            ],
            detail={"outcome": "unknown"},
        )
    log.warning("outbox.unknown", messages=len(stuck))
    return len(stuck)


@transaction.atomic
def message_retry(*, message: Message, user: User) -> Message:
    """Staff send a failed or unknown message again (for unknown: knowing it may repeat)."""
    current = Message.objects.select_for_update().get(pk=message.pk)
    if current.status not in Message.NEEDS_ATTENTION:
        raise InvalidTransition(
            f"A {current.get_status_display().lower()} message cannot be retried."
        )
    # A fresh start: its own attempts, and back on the Messages page if it fails again.
    current.status = Status.QUEUED
    current.attempts = 0
    current.next_attempt_at = timezone.now()
    current.handled_at, current.handled_by = None, None
    current.save(
        update_fields=[
            "status",
            "attempts",
            "next_attempt_at",
            "handled_at",
            "handled_by",
            "updated_at",
        ]
    )
    outbox_schedule(message_ids=[current.pk])
    log.info("outbox.retried_by_staff", message_id=current.pk, user_id=user.pk)
    return current


@transaction.atomic
def message_mark_handled(*, message: Message, user: User) -> Message:
    current = Message.objects.select_for_update().get(pk=message.pk)
    if current.status not in Message.NEEDS_ATTENTION:
        raise InvalidTransition("Only failed or unknown messages need handling.")
    current.handled_at, current.handled_by = timezone.now(), user
    current.save(update_fields=["handled_at", "handled_by", "updated_at"])
    return current
