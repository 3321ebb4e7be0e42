"""Celery tasks: thin, take ids, safe to run twice (every send claims its row first)."""

from celery import shared_task

from integrations.outbox import outbox_deliver, outbox_relay, outbox_sweep
from integrations.services import reminders_send

# Celery discovers `<app>.tasks` modules only: vendors' tasks are registered from here.
from integrations.xero.tasks import xero_sync_task  # noqa: F401


@shared_task(ignore_result=True)
def outbox_deliver_task(message_id: int) -> str:
    return outbox_deliver(message_id=message_id)


@shared_task(ignore_result=True)
def outbox_relay_task() -> int:
    """Beat, every minute: rows whose hand-off was lost or whose retry is due."""
    return outbox_relay()


@shared_task(ignore_result=True)
def outbox_sweep_task() -> int:
    """Beat: rows stuck in `sending` past their lease become `unknown`."""
    return outbox_sweep()


@shared_task(ignore_result=True)
def reminders_send_task() -> int:
    """Beat: reminders for appointments in the next 24 hours. A database constraint keeps
    it to one per appointment however often, or however concurrently, this runs."""
    return reminders_send()
