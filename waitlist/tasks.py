"""Celery tasks: thin, take ids, safe to run twice."""

from datetime import datetime

from celery import shared_task

from waitlist.services import waitlist_offers_lapse, waitlist_time_offer, waitlist_window_offer


@shared_task(ignore_result=True)
def waitlist_time_offer_task(clinician_id: int, clinic_id: int, start: str, end: str) -> int:
    """After a cancellation, no-show or move commits: offer the freed time. Twice is
    harmless: a time is offered to an entry once, and only up to the practice's number."""
    return waitlist_time_offer(
        clinician_id=clinician_id,
        clinic_id=clinic_id,
        start=datetime.fromisoformat(start),
        end=datetime.fromisoformat(end),
    )


@shared_task(ignore_result=True)
def waitlist_offers_lapse_task() -> int:
    """Beat, every minute: unanswered offers lapse and their times go to the next patients."""
    return waitlist_offers_lapse()


@shared_task(ignore_result=True)
def waitlist_window_offer_task(
    clinician_id: int, clinic_id: int | None, start: str, end: str
) -> int:
    """After time off is removed: offer the freed stretches. Twice is harmless."""
    return waitlist_window_offer(
        clinician_id=clinician_id,
        clinic_id=clinic_id,
        start=datetime.fromisoformat(start),
        end=datetime.fromisoformat(end),
    )
