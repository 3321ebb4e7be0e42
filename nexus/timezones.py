"""Showing a moment in the right zone.

An appointment happens in its clinic's zone, whoever looks at it and wherever the server
is. Django's `date` and `time` template filters convert every aware datetime to the
*active* zone (TIME_ZONE, Sydney) before formatting it, so a Perth appointment at 9:45
would read "12:45". `in_zone` returns the moment as a wall-clock value in a chosen zone,
marked so that Django leaves it alone; `Appointment.local_start` and the slots' `local_start`
use it, and nexus/templatetags/zones.py makes the template filters refuse (under test and
in development) any aware datetime whose zone was not chosen this way.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any


class ZonedDateTime(datetime):
    """A datetime whose zone was chosen on purpose: templates must not convert it."""

    # Django's template_localtime() skips values with this attribute set to False.
    convert_to_local_time = False


def in_zone(value: datetime, tz: tzinfo) -> ZonedDateTime:
    """`value` (aware) as wall-clock time in `tz`, marked as already localized."""
    local = value.astimezone(tz)
    return ZonedDateTime(
        local.year,
        local.month,
        local.day,
        local.hour,
        local.minute,
        local.second,
        local.microsecond,
        tzinfo=local.tzinfo,
        fold=local.fold,
    )


def zone_city(key: str) -> str:
    """'Australia/Perth' -> 'Perth'; 'America/Argentina/Buenos_Aires' -> 'Buenos Aires'."""
    return key.rsplit("/", 1)[-1].replace("_", " ")


def zone_label(key: str, tz: tzinfo, at: datetime) -> str:
    """How a patient reads a zone: "Perth time (AWST)", with the abbreviation in force at
    `at` (Sydney is AEDT in summer and AEST in winter)."""
    abbreviation = at.astimezone(tz).tzname() or ""
    city = zone_city(key)
    if abbreviation and not abbreviation.startswith(("+", "-")):
        return f"{city} time ({abbreviation})"
    return f"{city} time"


@dataclass(frozen=True)
class ZoneNote:
    """One line of "Times are Perth time (AWST)." on a public page."""

    key: str
    label: str
    clinics: str  # the clinics using this zone, for pages that list several
    at: ZonedDateTime  # the moment the label is for (AEDT in summer, AEST in winter)


def zone_notes(*, places: Iterable[tuple[Any, datetime]]) -> list[ZoneNote]:
    """The distinct clinic zones behind the times on a page, given (clinic, moment) pairs."""
    seen: dict[str, tuple[Any, datetime, list[str]]] = {}
    for clinic, moment in places:
        entry = seen.setdefault(clinic.timezone, (clinic, moment, []))
        if clinic.name not in entry[2]:
            entry[2].append(clinic.name)
    return [
        ZoneNote(
            key=key,
            label=zone_label(key, clinic.tz, moment),
            clinics=", ".join(names),
            at=in_zone(moment, clinic.tz),
        )
        for key, (clinic, moment, names) in seen.items()
    ]
