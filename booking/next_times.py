"""Free times for the public pages, computed once per clinician and kept in the cache.

/book/ is anonymous and lists up to 30 clinicians with their next times, so it must not ask
the availability engine afresh on every visit (it once cost 126 ms and 96 queries). Each
clinician's answer for a type and range is cached, tagged with the availability
generations it was computed under (appointments.availability): any booking, move,
cancellation, hold, time off, working hours or listing change replaces a generation and
the entry is recomputed on the next visit. What changes without a write is checked on
every read instead: a time that has come inside the minimum notice is not offered, and an
entry lapses when the first online hold it saw expires (that time is free again).
Clinicians whose entries are missing or stale are computed together: three queries for the
engine and one for the holds, whatever their number.
"""

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

from django.core.cache import cache
from django.db.models import Min

from appointments.availability import generation_key, generations, open_blocks
from appointments.holds import live_holds
from appointments.models import AppointmentType
from appointments.selectors import Slot
from clinicians.models import Clinic

# A backstop for writes that send no signal (bulk imports); the generations do the work.
ENTRY_SECONDS = 10 * 60
NEVER = float("inf")

# (generation tokens, lapses at (epoch seconds), ((start epoch seconds, clinic id), ...))
Entry = tuple[tuple[str, str], float, tuple[tuple[int, int], ...]]


def _entry_key(
    clinician_id: int, appointment_type: AppointmentType, start: date, end: date, limit: int | None
) -> str:
    return f"booking:slots:{clinician_id}:{appointment_type.pk}:{start}:{end}:{limit or ''}"


def cached_slots_until(
    *,
    clinician_ids: Sequence[int],
    appointment_type: AppointmentType,
    start_date: date,
    end_date: date,
    earliest: datetime,
    clinics: Mapping[int, Clinic],
    limit: int | None = None,
) -> tuple[dict[int, list[Slot]], float]:
    """Each clinician's free times of this type on the clinic-local days `start_date` to
    `end_date`, none before `earliest`, the first `limit` of them when given, and until when
    (epoch seconds) the answer holds without a write: the first live hold behind it lapses
    then, freeing its time. A page built from the answer must also go when its first time
    comes inside the notice. `clinics` are the clinics the page already has, to attach to
    cached times; a time at any other clinic is computed again."""
    keys = {
        pk: _entry_key(pk, appointment_type, start_date, end_date, limit) for pk in clinician_ids
    }
    values = cache.get_many(
        [generation_key(None), *(generation_key(pk) for pk in clinician_ids), *keys.values()]
    )
    # Read before any query below, so a change committed meanwhile outdates what we store.
    tokens = generations(values, clinician_ids)
    now = time.time()
    found: dict[int, list[Slot]] = {}
    until = NEVER
    for pk in clinician_ids:
        entry: Entry | None = values.get(keys[pk])
        if entry is None or entry[0] != (tokens[None], tokens[pk]) or now >= entry[1]:
            continue
        slots = _slots(entry[2], appointment_type, clinics, earliest, limit)
        if slots is not None:
            found[pk] = slots
            until = min(until, entry[1])
    missing = [pk for pk in clinician_ids if pk not in found]
    if not missing:
        return found, until
    computed, lapses = _compute(missing, appointment_type, start_date, end_date, earliest, limit)
    fresh: dict[str, Entry] = {}
    for pk in missing:
        slots = computed.get(pk, [])
        found[pk] = slots
        fresh[keys[pk]] = (
            (tokens[None], tokens[pk]),
            lapses.get(pk, NEVER),
            tuple((int(slot.start.timestamp()), slot.clinic.pk) for slot in slots),
        )
        until = min(until, lapses.get(pk, NEVER))
    cache.set_many(fresh, timeout=ENTRY_SECONDS)
    return found, until


def _slots(
    stored: tuple[tuple[int, int], ...],
    appointment_type: AppointmentType,
    clinics: Mapping[int, Clinic],
    earliest: datetime,
    limit: int | None,
) -> list[Slot] | None:
    """The cached times still on offer, or None when the entry must be computed again: a
    clinic the page does not know, or (for the first few) one of them has come too close,
    so the next one is needed."""
    length = appointment_type.duration
    not_before = earliest.timestamp()
    slots = []
    for start_seconds, clinic_id in stored:
        if start_seconds < not_before:
            if limit is not None:
                return None
            continue
        clinic = clinics.get(clinic_id)
        if clinic is None:
            return None
        start = datetime.fromtimestamp(start_seconds, UTC)
        slots.append(Slot(start, start + length, clinic))
    return slots


def _compute(
    clinician_ids: list[int],
    appointment_type: AppointmentType,
    start_date: date,
    end_date: date,
    earliest: datetime,
    limit: int | None,
) -> tuple[dict[int, list[Slot]], dict[int, float]]:
    """The times from the engine for these clinicians together, and when each one's first
    live hold lapses."""
    length = appointment_type.duration
    blocks = open_blocks(clinician_ids=clinician_ids, start_date=start_date, end_date=end_date)
    blocks.sort(key=lambda block: (block.start, block.clinic.pk))
    found: dict[int, list[Slot]] = {pk: [] for pk in clinician_ids}
    for block in blocks:
        slots = found[block.clinician_id]
        # Blocks come in order, so one starting after `limit` times already found adds none
        # of the first `limit` (the max: two clinics' blocks may interleave).
        if (
            limit is not None
            and len(slots) >= limit
            and block.start > max(slot.start for slot in slots[:limit])
        ):
            continue
        slots.extend(
            Slot(start, start + length, block.clinic)
            for start in block.starts(length=length, not_before=earliest)
        )
    for slots in found.values():
        slots.sort(key=lambda slot: (slot.start, slot.clinic.pk))
        if limit is not None:
            del slots[limit:]
    holds = (
        live_holds()
        .filter(clinician_id__in=clinician_ids)
        .values("clinician_id")
        .annotate(first=Min("expires_at"))
        .values_list("clinician_id", "first")
        .order_by()
    )
    return found, {pk: first.timestamp() for pk, first in holds}
