"""What the calendar and the booking panel compute once per clinician and keep in the cache.

A calendar page's clinicians, working hours, time off, free times and appointment types
are the same for everyone who looks at them until something is written: an appointment
booked, moved or cancelled, a hold taken, time off or working hours changed, a clinician,
clinic or type edited. Each entry is tagged with the availability generations it was
computed under (appointments.availability), read before its queries, and every one of
those writes replaces a generation, so the next request computes it again. A live online
hold lapses without a write, so an entry that saw one lapses with it.

Nothing about who is looking is cached here: the appointments (and the patients on them)
are read on every request, scoped to the user, and audited as they always were.
"""

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.core.cache import cache
from django.db.models import Min

from appointments.availability import generation_key, generations
from appointments.holds import live_holds

# A backstop for writes that send no signal (bulk imports); the generations do the work.
ENTRY_SECONDS = 10 * 60
NEVER = float("inf")

T = TypeVar("T")


def cached_by_generation(
    key: str, *, clinician_ids: Sequence[int], compute: Callable[[], tuple[T, float]]
) -> T:
    """The value cached under `key` while these clinicians' generations (and everyone's)
    are unchanged and it has not lapsed; otherwise `compute()`'s (value, lapses at epoch
    seconds), stored for next time. One cache round trip when the entry is fresh."""
    values = cache.get_many(
        [generation_key(None), *(generation_key(pk) for pk in clinician_ids), key]
    )
    # Read before `compute` queries anything, so a change committed meanwhile outdates it.
    tokens = generations(values, clinician_ids)
    tag = tuple(tokens[pk] for pk in [None, *clinician_ids])
    entry: tuple[tuple[str, ...], float, Any] | None = values.get(key)
    if entry is not None and entry[0] == tag and time.time() < entry[1]:
        return entry[2]
    value, lapses = compute()
    cache.set(key, (tag, lapses, value), timeout=ENTRY_SECONDS)
    return value


def first_hold_lapse(clinician_ids: Sequence[int], *, start: datetime, end: datetime) -> float:
    """When the first live online hold on these clinicians' time in [start, end) expires
    (epoch seconds; NEVER when there is none): the time it holds is free again then."""
    first = (
        live_holds()
        .filter(clinician_id__in=clinician_ids, start__lt=end, end__gt=start)
        .aggregate(first=Min("expires_at"))["first"]
    )
    return NEVER if first is None else first.timestamp()
