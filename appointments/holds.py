"""Holds on times chosen online, and the lock that makes everyone respect them.

A hold lives in its own table, so the appointments' exclusion constraint cannot see it.
What makes "nobody books over a live hold" a database rule rather than a hope is the
clinician's schedule lock: every write that claims a clinician's time (a booking, a move,
a hold) takes it first, in its own transaction, and only then checks appointments and holds
and writes. On PostgreSQL it is a transaction-scoped advisory lock keyed by the clinician;
on SQLite the IMMEDIATE transactions already let one writer in at a time. Two holds still
cannot overlap whatever the code does (the `slot_hold_no_overlap` exclusion constraint).
"""

import math
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from appointments.models import SlotHold
from nexus.errors import Conflict

# The first half of the two-key advisory lock: this module's locks, apart from any other's.
_LOCK_SPACE = 20_03


def _now() -> datetime:
    # One seam for "now", so tests can let a hold expire without waiting for it.
    return timezone.now()


class SlotHeld(Conflict):
    code = "slot_held"
    default_detail = "Someone is booking this time online. Please choose another time."


def clinician_schedule_lock(*, clinician_id: int) -> None:
    """Serialise writes to this clinician's diary until the current transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_SPACE, clinician_id])


def holds_release_expired(*, clinician_id: int | None = None, now: datetime | None = None) -> int:
    """Delete holds past their time (one clinician's, or all: the sweep); answer how many."""
    expired = SlotHold.objects.filter(expires_at__lte=now or _now())
    if clinician_id is not None:
        expired = expired.filter(clinician_id=clinician_id)
    deleted, _ = expired.delete()
    return deleted


def live_holds(*, now: datetime | None = None) -> QuerySet[SlotHold]:
    return SlotHold.objects.filter(expires_at__gt=now or _now())


def hold_over(
    *, clinician_id: int, start: datetime, end: datetime, now: datetime | None = None
) -> SlotHold | None:
    """The live hold sharing time with [start, end) for this clinician, if any."""
    return (
        live_holds(now=now)
        .filter(clinician_id=clinician_id, start__lt=end, end__gt=start)
        .order_by("expires_at")
        .first()
    )


def held_refusal(hold: SlotHold, *, now: datetime | None = None) -> SlotHeld:
    """What the next person is told: that it is held, and how long it may stay so."""
    seconds = (hold.expires_at - (now or _now())).total_seconds()
    minutes = max(1, math.ceil(seconds / 60))
    return SlotHeld(
        "Someone is booking this time right now. Please choose another time, or try again "
        f"in {minutes} minute{'s' if minutes != 1 else ''}."
    )


def check_not_held(*, clinician_id: int, start: datetime, end: datetime) -> None:
    """Under the clinician's schedule lock: expired holds go, a live one refuses."""
    now = _now()
    holds_release_expired(clinician_id=clinician_id, now=now)
    if (hold := hold_over(clinician_id=clinician_id, start=start, end=end, now=now)) is not None:
        raise held_refusal(hold, now=now)
