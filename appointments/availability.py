"""The one availability engine: free time is working hours minus time off minus active
appointments and live online holds, per clinician, per clinic, per clinic-local day.

Every caller that asks "when is this clinician free?" comes here: the API and public
availability (`selectors.clinician_availability`), the calendar's free rows, the staff
booking panel's start times, and next recurring series and the waitlist. They differ
only in the length they need to fit and where they start looking.
"""

import bisect
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Q

from appointments.holds import live_holds
from appointments.models import Appointment
from clinicians.models import Clinic, TimeOff, WorkingHours

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
