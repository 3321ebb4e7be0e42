"""Celery: the periodic read-back of payments and voids from Xero."""

from celery import shared_task

from integrations.xero.services import xero_sync


@shared_task(ignore_result=True)
def xero_sync_task() -> dict[str, int]:
    """Beat, every 15 minutes: payments and voids made in Xero onto Nexus's invoices."""
    return xero_sync()
