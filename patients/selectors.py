"""Reads of patient records, always through here so access rules live in one place."""

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, reduce
from operator import and_, or_
from typing import Any, TypedDict

import phonenumbers
from django.db import connection, connections
from django.db.models import BooleanField, F, Func, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Collate, Lower
from django.db.models.sql import Query
from django.utils.dateformat import DateFormat

from accounts.models import User
from appointments.models import Appointment, AppointmentSeries, AppointmentType
from clinicians.models import Clinic, Clinician
from nexus.collation import database_orders_by_code_point
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


NAME_FIELDS = ("family_name", "given_name", "preferred_name")


class Bytewise(Collate):
    """An expression compared in code-point order: `COLLATE "C"` on PostgreSQL, where a
    plain btree index on it serves a LIKE prefix as a range whatever the database's
    collation; SQLite already compares text that way (and has no collation named C)."""

    def __init__(self, expression: Any) -> None:
        super().__init__(expression, "C")

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return compiler.compile(self.source_expressions[0])


class NameStarts(Func):
    """`LOWER(field) COLLATE "C" LIKE LOWER(word) || '%'`: the name begins with the word
    whatever their case, folded by the database as before, compared in code-point order
    so the patients search indexes serve it as a range (PostgreSQL folds the constant).

    Written out rather than built from Lower, Collate and StartsWith, which cost twice
    the Python to build and compile (378 against 172 us for one condition, measured
    under load), and a search compiles it several times."""

    output_field = BooleanField()

    def __init__(self, field: str, word: str) -> None:
        super().__init__(F(field))
        # The word's own % and _ are letters here, not wildcards.
        self.pattern = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # type: ignore[override]
        column, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"LOWER({column}) COLLATE \"C\" LIKE LOWER(%s) || '%%'", (*params, self.pattern)
        return f"LOWER({column}) LIKE LOWER(%s) || '%%' ESCAPE '\\'", (*params, self.pattern)


def _name_starts(field: str, word: str) -> Q:
    return Q(NameStarts(field, word))


def _any_name_starts(word: str) -> Q:
    return reduce(or_, (_name_starts(field, word) for field in NAME_FIELDS))


def _search_branches(term: str) -> tuple[list[Q], Q]:
    """What a typed term asks for, as (branches, rest): a patient matches when any branch
    and rest hold. Each branch is served by an index of its own (patients migrations
    0002, 0008), so a page can be read branch by branch (patient_search_page)."""
    compact = "".join(ch for ch in term if ch not in " -()")
    born = _date_of_birth(term)
    if born:
        return [Q(date_of_birth=born)], Q()
    if "@" in term:
        return [Q(email__istartswith=term)], Q()
    if compact.lstrip("+").isdigit():
        digits = compact.lstrip("+")
        branches = [
            Q(phone__startswith=_as_e164_prefix(digits)),
            Q(medicare_number__startswith=digits),
        ]
        if compact.startswith("+"):
            try:
                parsed = phonenumbers.parse(compact, None)
                branches.append(Q(phone=phonenumbers.format_number(parsed, 0)))
            except phonenumbers.NumberParseException:
                pass
        return branches, Q()
    # Every word must begin one of the names; the longest word (the fewest matches) is
    # the one split into a branch per name column.
    words = term.split()[:4]
    pivot = max(range(len(words)), key=lambda i: len(words[i]))
    rest = [_any_name_starts(word) for i, word in enumerate(words) if i != pivot]
    branches = [_name_starts(field, words[pivot]) for field in NAME_FIELDS]
    return branches, reduce(and_, rest, Q())


def _search_order(using: str) -> tuple[Any, Any]:
    """The sort keys of a search: LOWER(family_name), LOWER(given_name) in the database's
    collation. Where that collation is code-point order already (C, C.UTF-8), the same
    keys are written in code-point order, which the family-name index supplies, so a page
    of "smi" stops after its rows instead of sorting every Smith."""
    if database_orders_by_code_point(using):
        return Bytewise(Lower("family_name")), Bytewise(Lower("given_name"))
    return Lower("family_name"), Lower("given_name")


def patient_search(queryset: QuerySet[Patient], term: str) -> QuerySet[Patient]:
    """Match a name, phone, email or Medicare number as reception types it.

    Every branch is a prefix match on an indexed expression (see the patients search-index
    migrations), and results are ordered by LOWER(name) so PostgreSQL cannot be tempted to
    walk a name index end to end looking for matches (docs/performance.md). Read a page
    of it with patient_search_page, which asks each branch for its first rows only.
    """
    term = term.strip()
    if not term:
        return queryset
    branches, rest = _search_branches(term)
    family, given = _search_order(queryset.db)
    return queryset.filter(reduce(or_, branches), rest).order_by(family, given, "id")


# What a branch's condition may name (_search_branches), besides the sort keys.
_BRANCH_COLUMNS = ("id", *NAME_FIELDS, "phone", "medicare_number")


@dataclass(frozen=True)
class PatientSearchBranches:
    """A search (patient_search(queryset, term), maybe filtered further) compiled once, to
    be read branch by branch: `matched` as SQL selecting the branch columns and the sort
    keys, and each branch's condition, disjoint from the ones before it.

    The branches are OR-ed in `matched`, which PostgreSQL answers by reading every match
    ("smi": ~2,500 rows of 100k) to sort them. Instead each branch asks its own index for
    its first rows in name order (a prefix and the sort keys in one index stop early; the
    others read index entries only). The conditions name "patients_patient", which is
    also the name `matched` is given as a derived table around them; PostgreSQL pulls that
    simple subquery up into each branch, so the prefix and the sort keys meet the index.
    """

    using: str
    matched: str
    params: tuple[Any, ...]
    conditions: tuple[tuple[str, tuple[Any, ...]], ...]

    def _branch(self, i: int, select: str) -> tuple[str, list[Any]]:
        condition, params = self.conditions[i]
        sql = f'SELECT {select} FROM ({self.matched}) AS "patients_patient" WHERE {condition}'  # noqa: S608 - compiled by Django
        return sql, [*self.params, *params]

    def page(self, *, offset: int, limit: int) -> QuerySet[Patient]:
        """Rows `offset` to `offset + limit` in the search's order, in one query: the page
        is taken from the union of each branch's first `offset + limit` rows, among which
        any row of the page is. The branches are disjoint: no duplicates to remove."""
        # Each branch is wrapped in a subquery: SQLite refuses ORDER BY and LIMIT on the
        # parts of a compound SELECT. Everything typed stays a parameter.
        order = "ORDER BY sort_family, sort_given, id LIMIT %s"
        parts, params = [], []
        for i in range(len(self.conditions)):
            sql, branch_params = self._branch(i, "id, sort_family, sort_given")
            parts.append(f"SELECT * FROM ({sql} {order}) AS branch{i}")  # noqa: S608 - as above
            params += [*branch_params, offset + limit]
        union = " UNION ALL ".join(parts)
        page = f"SELECT id FROM ({union}) AS found {order} OFFSET %s"  # noqa: S608 - as above
        family, given = _search_order(self.using)
        return (
            Patient.objects.using(self.using)
            .filter(pk__in=RawSQL(page, (*params, limit, offset)))  # noqa: S611 - as above
            .order_by(family, given, "id")
        )

    def count(self, *, cap: int) -> int:
        """How many rows, counting at most `cap`: the branches' ids one after the other,
        which their indexes answer without reading the table, stopping at `cap`."""
        parts, params = [], []
        for i in range(len(self.conditions)):
            sql, branch_params = self._branch(i, "id")
            parts.append(sql)
            params += branch_params
        union = " UNION ALL ".join(parts)
        with connections[self.using].cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({union} LIMIT %s) AS found", [*params, cap])  # noqa: S608
            row = cursor.fetchone()
        return int(row[0])


def patient_search_branches(matched: QuerySet[Patient], term: str) -> PatientSearchBranches | None:
    """`matched` = patient_search(queryset, term), maybe filtered further, ready to be read
    branch by branch; None when the term has one branch only (a date of birth, an email),
    which `matched` reads as well by itself."""
    term = term.strip()
    branches, _ = _search_branches(term) if term else ([], Q())
    if len(branches) < 2:
        return None
    family, given = _search_order(matched.db)
    base = (
        matched.order_by()
        .annotate(sort_family=family, sort_given=given)
        .values_list(*_BRANCH_COLUMNS, "sort_family", "sort_given")
    )
    sql, params = base.query.get_compiler(using=matched.db).as_sql()
    # Each branch compiled once, then made disjoint from the ones before it (the first
    # branch a row matches is its only one): a queryset per branch cost 3x the Python.
    query = Query(Patient)
    compiler = query.get_compiler(using=matched.db)
    compiled = [compiler.compile(query.build_where(branch)) for branch in branches]
    conditions = []
    for i, (condition, condition_params) in enumerate(compiled):
        earlier = compiled[:i]
        conditions.append(
            (
                " AND ".join([f"({condition})", *(f"NOT ({sql_})" for sql_, _ in earlier)]),
                (*condition_params, *(p for _, params_ in earlier for p in params_)),
            )
        )
    return PatientSearchBranches(
        using=matched.db, matched=sql, params=tuple(params), conditions=tuple(conditions)
    )


def patient_search_page(
    matched: QuerySet[Patient], term: str, *, offset: int, limit: int
) -> QuerySet[Patient]:
    """Rows `offset` to `offset + limit` of `matched` (patient_search(queryset, term), maybe
    filtered further), in its order, in one query (PatientSearchBranches.page)."""
    branches = patient_search_branches(matched, term)
    if branches is None:
        return matched[offset : offset + limit]
    return branches.page(offset=offset, limit=limit)


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
