"""Reads of patient records, always through here so access rules live in one place."""

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, TypedDict

import phonenumbers
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils.dateformat import DateFormat

from accounts.models import User
from appointments.models import Appointment, AppointmentSeries, AppointmentType
from clinicians.models import Clinic, Clinician
from nexus.timezones import ZonedDateTime, in_zone
from patients.models import Patient


def patient_list(*, user: User, include_archived: bool = True) -> QuerySet[Patient]:
    qs = Patient.objects.all()
    return qs if include_archived else qs.filter(archived=False)


def _as_e164_prefix(digits: str) -> str:
    """What a typed phone fragment looks like at the start of a stored E.164 number."""
    if digits.startswith("61"):
        return "+" + digits
    if digits.startswith("0"):
        return "+61" + digits[1:]
    return "+61" + digits


def _date_of_birth(term: str) -> date | None:
    """A typed date of birth: 10/12/1985, 10-12-1985, 10.12.1985 (Australian order) or ISO."""
    cleaned = term.strip().replace("-", "/").replace(".", "/")
    for pattern in ("%d/%m/%Y", "%Y/%m/%d"):
        try:
            return datetime.strptime(cleaned, pattern).date()  # noqa: DTZ007 - a date only
        except ValueError:
            continue
    return None


def patient_search(queryset: QuerySet[Patient], term: str) -> QuerySet[Patient]:
    """Match a name, phone, email or Medicare number as reception types it.

    Every branch is a prefix match on an indexed expression (see the patients search-index
    migration), and results are ordered by LOWER(name) so PostgreSQL cannot be tempted to
    walk a name index end to end looking for matches (docs/performance.md).
    """
    term = term.strip()
    if not term:
        return queryset
    compact = "".join(ch for ch in term if ch not in " -()")
    born = _date_of_birth(term)
    if born:
        matched = queryset.filter(date_of_birth=born)
    elif "@" in term:
        matched = queryset.filter(email__istartswith=term)
    elif compact.lstrip("+").isdigit():
        digits = compact.lstrip("+")
        condition = Q(phone__startswith=_as_e164_prefix(digits)) | Q(
            medicare_number__startswith=digits
        )
        if compact.startswith("+"):
            try:
                parsed = phonenumbers.parse(compact, None)
                condition |= Q(phone=phonenumbers.format_number(parsed, 0))
            except phonenumbers.NumberParseException:
                pass
        matched = queryset.filter(condition)
    else:
        matched = queryset
        for word in term.split()[:4]:
            matched = matched.filter(
                Q(family_name__istartswith=word)
                | Q(given_name__istartswith=word)
                | Q(preferred_name__istartswith=word)
            )
    return matched.order_by(Lower("family_name"), Lower("given_name"), "id")


class ChartAppointment(TypedDict):
    """One line of the chart's appointment lists, formatted once: the template only prints.
    A dict, not a model: the chart shows up to 30 of these on one of the most opened pages,
    and a template looks a dict's keys up without trying attribute access first."""

    id: int
    start: ZonedDateTime  # in the clinic's zone
    start_iso: str  # the <time datetime="…"> value
    start_text: str  # "Mon 30 Nov 2026, 5:34 PM"
    status: str
    status_label: str
    repeat: bool  # part of a repeat booking
    colour: str
    type_name: str
    clinician_name: str


@dataclass(frozen=True)
class PatientAppointments:
    """The chart's appointment lists: coming up (cancelled ones apart) and the latest past."""

    upcoming: list[ChartAppointment]
    cancelled: list[ChartAppointment]
    past: list[ChartAppointment]
    has_series: bool  # the patient has repeat bookings (listed apart, patient_series)


_STATUS_LABELS: dict[str, str] = dict(Appointment.Status.choices)
_UPCOMING, _CANCELLED, _PAST = 0, 1, 2


@cache
def _chart_appointments_sql() -> str:
    """The three lists as one statement, with whether the patient has repeat bookings:
    each list a small walk of the (patient, start) index, stopped by its LIMIT. Written
    out rather than built by the ORM because compiling three joined querysets cost more
    than everything else the chart does (issue 16: 11 ms of 35 under load, against 0.4 ms
    for this); the rows are plain values, so nothing else is lost."""
    a, k, c, t = (
        model._meta.db_table for model in (Appointment, Clinic, Clinician, AppointmentType)
    )
    part = (
        "SELECT * FROM (SELECT {part} AS part, a.id, a.start, a.status, a.series_id, "  # noqa: S608 - table names from the models
        "k.timezone, c.given_name, c.family_name, t.name, t.colour "
        f"FROM {a} a JOIN {k} k ON k.id = a.clinic_id JOIN {c} c ON c.id = a.clinician_id "
        f"JOIN {t} t ON t.id = a.appointment_type_id "
        "WHERE a.patient_id = %s AND {where} ORDER BY {order} LIMIT %s) AS part{part}"
    )
    lists = " UNION ALL ".join(
        (
            part.format(part=_UPCOMING, where="a.start >= %s AND a.status <> %s", order=_SOON),
            part.format(part=_CANCELLED, where="a.start >= %s AND a.status = %s", order=_SOON),
            part.format(part=_PAST, where="a.start < %s", order="a.start DESC, a.id DESC"),
        )
    )
    # Whether the patient has repeat bookings rides along: one row even with no appointments.
    series = AppointmentSeries._meta.db_table
    return (
        "SELECT x.has_series, r.* FROM (SELECT EXISTS "  # noqa: S608 - table names from the models
        f"(SELECT 1 FROM {series} WHERE patient_id = %s) AS has_series) AS x "
        f"LEFT JOIN ({lists}) AS r ON 1 = 1"
    )


_SOON = "a.start, a.id"


def patient_appointments(
    *, user: User, patient_id: int, now: datetime, limit: int
) -> PatientAppointments:
    """The next `limit` booked and the next `limit` cancelled visits, and the last `limit`
    past ones whatever their status, in one query. Every appointment of a patient the user
    may see is shown, as appointment_list(user=...) allows."""
    at = connection.ops.adapt_datetimefield_value(now)
    cancelled = Appointment.Status.CANCELLED.value
    params = [
        patient_id,
        *(patient_id, at, cancelled, limit),
        *(patient_id, at, cancelled, limit),
        *(patient_id, at, limit),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_chart_appointments_sql(), params)
        rows = cursor.fetchall()
    has_series = bool(rows[0][0])
    lists: tuple[list[ChartAppointment], ...] = ([], [], [])
    # Each part keeps its ORDER BY only inside itself: sort again rather than trust UNION ALL.
    shown = sorted((row[1:] for row in rows if row[1] is not None), key=_list_order)
    for part, pk, start, status, series_id, zone, given, family, type_name, colour in shown:
        local = in_zone(_aware(start), zoneinfo.ZoneInfo(zone))
        lists[part].append(
            {
                "id": pk,
                "start": local,
                "start_iso": local.isoformat(),  # what the date filter's "c" gives
                "start_text": DateFormat(local).format("D j M Y, g:i A"),
                "status": status,
                "status_label": _STATUS_LABELS.get(status, status),
                "repeat": series_id is not None,
                "colour": colour,
                "type_name": type_name,
                "clinician_name": f"{given} {family}",
            }
        )
    lists[_PAST].reverse()  # newest first
    return PatientAppointments(
        upcoming=lists[_UPCOMING],
        cancelled=lists[_CANCELLED],
        past=lists[_PAST],
        has_series=has_series,
    )


def _list_order(row: tuple[Any, ...]) -> tuple[int, datetime, int]:
    return row[0], _aware(row[2]), row[1]


def _aware(value: datetime | str) -> datetime:
    # PostgreSQL answers an aware datetime; SQLite (the default test database) UTC text.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
