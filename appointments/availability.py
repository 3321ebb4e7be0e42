"""The one availability engine: free time is working hours minus time off minus active
appointments and live online holds, per clinician, per clinic, per clinic-local day.

Every caller that asks "when is this clinician free?" comes here: the API and public
availability (`selectors.clinician_availability`), the calendar's free rows, the staff
booking panel's start times, and next recurring series and the waitlist. They differ
only in the length they need to fit and where they start looking.
"""

import bisect
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save

from appointments.holds import live_holds
from appointments.models import Appointment, AppointmentType, SlotHold
from clinicians.models import Clinic, Clinician, Discipline, TimeOff, WorkingHours

# Start times sit on this grid counted from the start of a working-hours block, so a
# 45-minute type can still be offered at 09:15 after a 30-minute appointment from 08:45.
SLOT_STEP = timedelta(minutes=15)

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class OpenBlock:
    """One working-hours block on one day (UTC bounds) and the free time left in it."""

    clinician_id: int
    clinic: Clinic
    day: date  # clinic-local
    start: datetime
    end: datetime
    free: tuple[Interval, ...]

    def starts(
        self, *, length: timedelta, not_before: datetime, step: timedelta = SLOT_STEP
    ) -> list[datetime]:
        """Start times on the block's grid at which `length` fits wholly in free time."""
        ends = [end for _, end in self.free]
        found = []
        candidate = self.start
        while candidate + length <= self.end:
            i = bisect.bisect_right(ends, candidate)  # the first free piece ending after it
            if (
                candidate >= not_before
                and i < len(self.free)
                and self.free[i][0] <= candidate
                and candidate + length <= self.free[i][1]
            ):
                found.append(candidate)
            candidate += step
        return found


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[list[datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def _subtract(start: datetime, end: datetime, busy: list[Interval]) -> tuple[Interval, ...]:
    """[start, end) minus the sorted, disjoint `busy` intervals (half-open throughout)."""
    free = []
    cursor = start
    for busy_start, busy_end in busy:
        if busy_end <= cursor:
            continue
        if busy_start >= end:
            break
        if busy_start > cursor:
            free.append((cursor, busy_start))
        cursor = max(cursor, busy_end)
    if cursor < end:
        free.append((cursor, end))
    return tuple(free)


def open_blocks(
    *,
    clinician_ids: Collection[int],
    start_date: date,
    end_date: date,
    clinic: Clinic | None = None,
    hours: Iterable[WorkingHours] | None = None,
    time_off: Iterable[TimeOff] | None = None,
) -> list[OpenBlock]:
    """Each working-hours block of these clinicians on the clinic-local days `start_date` to
    `end_date` (inclusive), at `clinic` or at every active clinic, with its free time.

    Working hours are wall-clock times in the clinic's zone, so each block becomes UTC per
    day: 09:00-17:00 is eight real hours even on the day the clocks change, and 09:00 stays
    09:00 on both sides. An appointment makes its clinician busy at every clinic; time off
    counts at its own clinic, or everywhere when it names none. A caller that has already
    read the working hours or the time off of these days (at `clinic`) passes them in as
    `hours` and `time_off`. Three queries at most, whatever the range or the number of
    clinicians.
    """
    if hours is None:
        found = WorkingHours.objects.filter(
            clinician_id__in=clinician_ids, clinic__is_active=True
        ).select_related("clinic")
        hours = found.filter(clinic=clinic) if clinic is not None else found
    blocks_hours = [h for h in hours if h.clinician_id in clinician_ids]
    if not blocks_hours:
        return []
    # A generous UTC window covering every zone's version of the requested days.
    window_start = datetime.combine(start_date, datetime.min.time(), tzinfo=UTC) - timedelta(days=1)
    window_end = datetime.combine(end_date, datetime.min.time(), tzinfo=UTC) + timedelta(days=2)
    booked: dict[int, list[Interval]] = {pk: [] for pk in clinician_ids}
    appointments = (
        Appointment.objects.overlapping(window_start, window_end)
        .filter(clinician_id__in=clinician_ids, status__in=Appointment.ACTIVE_STATUSES)
        .values_list("clinician_id", "start", "end")
        .order_by()
    )
    # A time someone is holding online is not free either (holds.py); one query for both.
    held = (
        live_holds()
        .filter(clinician_id__in=clinician_ids, start__lt=window_end, end__gt=window_start)
        .values_list("clinician_id", "start", "end")
        .order_by()
    )
    for clinician_id, start, end in appointments.union(held, all=True):
        booked[clinician_id].append((start, end))
    if time_off is None:
        time_off = TimeOff.objects.filter(
            clinician_id__in=clinician_ids, start__lt=window_end, end__gt=window_start
        )
        if clinic is not None:
            time_off = time_off.filter(Q(clinic=clinic) | Q(clinic__isnull=True))
    away = [(off.clinician_id, off.clinic_id, off.start, off.end) for off in time_off]

    busy: dict[tuple[int, int], list[Interval]] = {}
    blocks = []
    day = start_date
    while day <= end_date:
        for block in blocks_hours:
            if block.weekday != day.weekday():
                continue
            block_clinic = clinic if clinic is not None else block.clinic
            key = (block.clinician_id, block_clinic.pk)
            if key not in busy:
                busy[key] = _merge(
                    booked[block.clinician_id]
                    + [
                        (s, e)
                        for who, where, s, e in away
                        if who == block.clinician_id and where in (None, block_clinic.pk)
                    ]
                )
            tz = block_clinic.tz
            start = datetime.combine(day, block.start_time, tzinfo=tz).astimezone(UTC)
            end = datetime.combine(day, block.end_time, tzinfo=tz).astimezone(UTC)
            blocks.append(
                OpenBlock(
                    clinician_id=block.clinician_id,
                    clinic=block_clinic,
                    day=day,
                    start=start,
                    end=end,
                    free=_subtract(start, end, busy[key]),
                )
            )
        day += timedelta(days=1)
    return blocks


# What cached free times (booking/next_times.py) are checked against: a generation for
# everyone and one per clinician, each a random token in the cache that any change to what
# the engine reads replaces. A cached answer carries the tokens it was computed under, read
# before its queries, so a change committed after those reads leaves it stale and unused.
GENERATION_KEY = "availability:generation"


def generation_key(clinician_id: int | None) -> str:
    return GENERATION_KEY if clinician_id is None else f"{GENERATION_KEY}:{clinician_id}"


def availability_changed(*, clinician_id: int | None = None) -> None:
    """This clinician's free time (everyone's, when None) may have moved: retire what is
    cached. Once now, for a reader in this same transaction, and again after the commit,
    since a reader between the two can cache what it saw before the change was visible."""
    key = generation_key(clinician_id)

    def replace() -> None:
        cache.set(key, secrets.token_hex(8), timeout=None)

    replace()
    transaction.on_commit(replace)


def generations(values: dict[str, Any], clinician_ids: Iterable[int]) -> dict[int | None, str]:
    """The current tokens, from a `get_many` that asked for their keys, with any that were
    missing (never changed, or the cache was emptied) created now. `add` rather than `set`:
    a change that replaces a token between our read and this write must win."""
    found: dict[int | None, str] = {}
    for clinician_id in [None, *clinician_ids]:
        key = generation_key(clinician_id)
        token = values.get(key)
        if token is None:
            token = secrets.token_hex(8)
            if not cache.add(key, token, timeout=None):
                token = cache.get(key) or ""  # "" matches nothing cached under a token
        found[clinician_id] = token
    return found


def _clinician_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    availability_changed(clinician_id=instance.clinician_id)


def _everyone_changed(sender: Any, **kwargs: Any) -> None:
    availability_changed()


def watch_for_changes() -> None:
    """Every write through the ORM to what the engine reads retires cached free times.
    Receivers rather than calls in each service, unlike the rest of Nexus: a cache that a
    forgotten write site (an admin form, a new service, a test factory) leaves stale would
    offer a time that is gone, and these models are written from many places. Queryset
    `update()` and bulk inserts send no signals; the cached entries' short lifetime bounds
    those (the FileMaker import), and services that move time also call in directly."""
    for model in (Appointment, SlotHold, TimeOff, WorkingHours):
        post_save.connect(_clinician_changed, sender=model, dispatch_uid=f"availability.{model}")
        post_delete.connect(_clinician_changed, sender=model, dispatch_uid=f"availability-{model}")
    # Rare and practice-wide: a clinician listed or not, a clinic closed, a type's length,
    # the names the directory's filters show.
    for setup in (Clinician, Clinic, AppointmentType, Discipline):
        post_save.connect(_everyone_changed, sender=setup, dispatch_uid=f"availability.{setup}")
        post_delete.connect(_everyone_changed, sender=setup, dispatch_uid=f"availability-{setup}")
    for through in (Clinician.clinics.through, Clinician.disciplines.through):
        m2m_changed.connect(
            _everyone_changed, sender=through, dispatch_uid=f"availability.{through}"
        )
