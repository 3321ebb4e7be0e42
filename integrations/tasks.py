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


@shared_task(ignore_result=True)
def filemaker_import_task(run_id: int) -> None:
    """The Imports page's run: the connection from the environment, the options saved on
    the run. Safe to run twice: the second continues from the run's checkpoints."""
    from datetime import datetime

    from integrations.filemaker.importer import Options
    from integrations.filemaker.services import connection_from_env, import_filemaker
    from integrations.models import ImportRun

    run = ImportRun.objects.get(pk=run_id)
    saved = run.options
    options = Options(
        source=run.source,
        only=tuple(saved.get("only") or ()),
        since=datetime.fromisoformat(saved["since"]) if saved.get("since") else None,
        batch_size=int(saved.get("batch_size") or 2_000),
    )
    try:
        import_filemaker(connection=connection_from_env(), options=options, run_id=run.pk)
    except Exception as error:
        # The page shows the run failed (and a new one may start); the class name only,
        # never a message that could quote a record.
        ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.RUNNING).update(
            status=ImportRun.Status.FAILED, error=f"Stopped: {type(error).__name__}"
        )
        raise
