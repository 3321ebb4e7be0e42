"""Reads of the schedule: appointment lists and free slots."""

import bisect
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any, cast

from django.db import connections, router
from django.db.models import Count, Field, Min, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.models import User
from appointments.availability import open_blocks
from appointments.calendar_cache import NEVER, cached_by_generation, first_hold_lapse
from appointments.models import (
    Appointment,
    AppointmentQuerySet,
    AppointmentSeries,
    AppointmentType,
)
from clinicians.models import Clinic, Clinician, TimeOff
from nexus.db.prepared import fetch_all
from nexus.timezones import ZonedDateTime, in_zone, zone_label
from patients.models import Patient

MAX_AVAILABILITY_DAYS = 62


def appointment_list(*, user: User) -> AppointmentQuerySet:
    # Only the related columns the read serializer shows: a full patient row would also
    # parse two phone numbers per appointment. calendar_rows() keeps the SQL it builds from
    # this per user id: scope only by what that key holds, or add it there.
    return Appointment.objects.select_related(
        "patient", "clinician", "clinic", "appointment_type"
    ).only(
        *(f.name for f in Appointment._meta.concrete_fields if not f.is_relation),
        "patient__given_name",
        "patient__family_name",
        "patient__alerts",  # on the calendar block and the panel
        "series",
        "clinician__title",
        "clinician__given_name",
        "clinician__family_name",
        "clinic__timezone",
        "appointment_type__name",
        "appointment_type__colour",
    )


def appointment_list_rows(*, user: User, columns: tuple[str, ...]) -> QuerySet[Any]:
    """appointment_list(user=user) read as `values(*columns)`: dicts, not model instances.

    Setting values() up (four joins, twenty columns) cost ~0.5 ms of Python per request,
    as much as compiling the query (issue 16), so it is set up once per set of columns and
    copied. values() drops select_related() and only(), so the SQL is what
    appointment_list(user=user).values(*columns) gives: that holds because appointment_list
    is the same query for every user (tests/appointments/test_api.py compares them); were
    it to depend on the user, this must too.
    """
    return _appointment_rows(columns).all()


@cache
def _appointment_rows(columns: tuple[str, ...]) -> QuerySet[Any]:
    return Appointment.objects.values(*columns)


def appointment_rows(
    *,
    user: User,
    columns: tuple[str, ...],
    lookups: Sequence[tuple[str, Any]] = (),
    row_type: Callable[[Iterable[tuple[str, Any]]], Any] = dict,
) -> "AppointmentRows":
    """appointment_list_rows(user=user, columns=columns) filtered by `lookups`
    ((lookup, value) pairs, as filter() takes them), read from SQL compiled once per shape.
    The same rows, in the same order, as the queryset would read (tests/appointments/
    test_api_rows.py compares them); scoped as appointment_list_rows() is. Each row is
    `row_type(pairs)` of (column, value): a dict by default, as values() gives it."""
    return AppointmentRows(columns=columns, lookups=tuple(lookups), row_type=row_type)


@dataclass(frozen=True)
class AppointmentRows:
    """Listed appointments as DRF's cursor paginator reads a queryset: `order_by()`,
    `filter()` by the cursor's position, one slice, then the rows.

    Building the queryset (its filters, the cursor's) and compiling it cost a quarter of
    a day-schedule read's CPU (issue 16), though only the values change from one request
    to the next. So the SQL is compiled once per thread for each shape (columns, which
    lookups, ordering), and each request only prepares its values as the ORM would and
    adds LIMIT and OFFSET. A shape whose parameters are not one per lookup, in order, is
    read through the ORM each time.
    """

    columns: tuple[str, ...]
    lookups: tuple[tuple[str, Any], ...] = ()
    ordering: tuple[str, ...] = ()
    offset: int = 0
    stop: int | None = None
    row_type: Callable[[Iterable[tuple[str, Any]]], Any] = dict

    def order_by(self, *ordering: str) -> "AppointmentRows":
        return replace(self, ordering=ordering)

    def filter(self, **lookups: Any) -> "AppointmentRows":
        # Sorted, as Q(**lookups) sorts them.
        return replace(self, lookups=(*self.lookups, *sorted(lookups.items())))

    def __getitem__(self, window: slice) -> "AppointmentRows":
        if window.step is not None or self.offset or self.stop is not None:
            raise TypeError("AppointmentRows takes one slice, without a step.")
        return replace(self, offset=window.start or 0, stop=window.stop)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._read())

    def queryset(self) -> QuerySet[Any]:
        """The same read as an ORM queryset."""
        rows = _appointment_rows(self.columns).filter(
            *(Q(**{lookup: value}) for lookup, value in self.lookups)
        )
        if self.ordering:
            rows = rows.order_by(*self.ordering)
        return rows[self.offset : self.stop]

    def _read(self) -> list[Any]:
        alias = router.db_for_read(Appointment)
        connection = connections[alias]
        shape = (alias, self.columns, tuple(lookup for lookup, _ in self.lookups), self.ordering)
        compiled_ = _compiled_appointment_rows.__dict__.setdefault("shapes", {})
        compiled = compiled_.get(shape)
        params = [self._prepared(lookup, value, connection) for lookup, value in self.lookups]
        if compiled is None:
            compiled = _CompiledRows.of(replace(self, offset=0, stop=None), alias)
            if list(compiled.params) != params:
                return [self.row_type(row.items()) for row in self.queryset()]
            compiled_[shape] = compiled
        sql = compiled.sql
        if self.offset or self.stop is not None:
            sql = f"{sql} {connection.ops.limit_offset_sql(self.offset, self.stop)}"
        sql += compiled.sql_after_window
        # A prepared statement on PostgreSQL (nexus.db.prepared).
        fetched: Any = fetch_all(connection, sql, params)
        if compiled.converters:
            fetched = compiled.compiler.apply_converters(fetched, compiled.converters)
        row_type, names = self.row_type, compiled.names
        return [row_type(zip(names, row, strict=True)) for row in fetched]

    @staticmethod
    def _prepared(lookup: str, value: Any, connection: Any) -> Any:
        """The value as the ORM hands it to the database for `lookup` on a column of
        Appointment (a cursor's position arrives as text: the field parses it)."""
        field = cast("Field[Any, Any]", Appointment._meta.get_field(lookup.split("__", 1)[0]))
        return field.get_db_prep_value(value, connection, prepared=False)


@dataclass(frozen=True)
class _CompiledRows:
    """The SQL of a shape of AppointmentRows: `sql`, then the window (LIMIT and OFFSET),
    then `sql_after_window`; with what names and converts the values it reads."""

    sql: str
    sql_after_window: str
    params: tuple[Any, ...]
    names: list[str]
    compiler: Any
    converters: dict[int, Any]

    @classmethod
    def of(cls, rows: "AppointmentRows", alias: str) -> "_CompiledRows":
        query = rows.queryset().query
        compiler = query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        # As ValuesIterable names and converts what it reads.
        expressions = [selected[0] for selected in compiler.select[: compiler.col_count]]
        names = [*query.extra_select, *query.values_select, *query.annotation_select]
        sql_after_window = ""
        page_first = _page_first(rows, alias)
        if page_first is not None and page_first[2] == tuple(params):
            sql, sql_after_window, _ = page_first
        return cls(
            sql=sql,
            sql_after_window=sql_after_window,
            params=tuple(params),
            names=names,
            compiler=compiler,
            converters=compiler.get_converters(expressions),
        )


def _page_first(rows: "AppointmentRows", alias: str) -> tuple[str, str, tuple[Any, ...]] | None:
    """The read of `rows` with its patients' columns joined to the page's rows only: the
    appointments (with their clinician, clinic and type) read, ordered and windowed in a
    subquery, then each one's patient, in the same order. None for a shape it cannot
    write (no ordering, or a patient column other than a patient's own field).

    Joined in the one query, PostgreSQL plans a Memoize node over the patients (one probe
    per row, 100,000 distinct): it never hits on a page, and setting its hash table up
    cost more than the page's read: the statement alone took 0.46-0.60 ms of the
    backend's CPU for the first page of 25 on 100k patients / 1M appointments, and
    0.33-0.37 ms read this way (issue 16). Joined after the LIMIT, the page's 25 rows are
    each looked up once by primary key and come out in the subquery's order, with no
    sort. The same rows: every appointment has a patient (a non-null foreign key), so the
    join drops none."""
    if not rows.ordering:
        return None
    patient_columns = {
        name: name.removeprefix("patient__")
        for name in rows.columns
        if name.startswith("patient__")
    }
    if not patient_columns:
        return None
    fields = {field.name: field for field in Patient._meta.concrete_fields}
    if any(field not in fields or fields[field].is_relation for field in patient_columns.values()):
        return None
    own = tuple(name for name in rows.columns if name not in patient_columns)
    ordered = [(name.removeprefix("-"), name.startswith("-")) for name in rows.ordering]
    if "patient_id" not in own or any(name not in own for name, _ in ordered):
        return None
    inner = replace(rows, columns=own).queryset().query.get_compiler(using=alias)
    sql, params = inner.as_sql()
    qn = connections[alias].ops.quote_name
    page, patients = qn("listed"), qn(Patient._meta.db_table)
    selected = ", ".join(
        f"{patients}.{qn(cast(str, fields[patient_columns[name]].column))} AS {qn(name)}"
        if name in patient_columns
        else f"{page}.{qn(name)}"
        for name in rows.columns
    )
    order = ", ".join(f"{page}.{qn(name)} {'DESC' if desc else 'ASC'}" for name, desc in ordered)
    # Only names quoted here and the ORM's own SQL, its values left as parameters.
    before = f"SELECT {selected} FROM ({sql}"  # noqa: S608
    after = (
        f") {page} INNER JOIN {patients} ON ({page}.{qn('patient_id')} = {patients}."
        f"{qn(cast(str, Patient._meta.pk.column))}) ORDER BY {order}"
    )
    return before, after, tuple(params)


# A compiler holds its thread's connection.
_compiled_appointment_rows = threading.local()


def calendar_rows(
    *,
    user: User,
    clinic: Clinic,
    clinician_ids: Sequence[int],
    start: datetime,
    end: datetime,
    columns: tuple[str, ...],
    show_cancelled: bool = False,
) -> list[Sequence[Any]]:
    """`columns` of the appointments of these clinicians at this clinic that share any time
    with [start, end), by start; cancelled ones and no-shows only with `show_cancelled`.
    One query.

    A calendar page is asked for again and again (every reload, every return from a panel),
    and building and compiling this query through the ORM cost more CPU than running it
    (issue 16). Its SQL is therefore compiled once per process for each user, page and
    database connection, and run again as it stands: only the SQL is kept, the rows are
    read every time. What appointment_list() scopes by must be in the key below.
    """
    if not clinician_ids:
        return []  # the ORM's answer to an empty IN, which its SQL cannot express
    connection = connections[router.db_for_read(Appointment)]
    key = (
        connection,
        user.pk,
        clinic.pk,
        start,
        end,
        tuple(clinician_ids),
        columns,
        show_cancelled,
    )
    compiled = _CALENDAR_QUERIES.get(key)
    if compiled is None:
        shown = appointment_list(user=user).overlapping(start, end)
        if not show_cancelled:
            shown = shown.exclude(
                status__in=[Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW]
            )
        query = (
            shown.filter(clinic=clinic, clinician_id__in=clinician_ids)
            .order_by("start")
            .values_list(*columns)
            .query
        )
        compiler = query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        selected = [column for column, *_ in compiler.select[: compiler.col_count]]
        compiled = (sql, params, compiler, compiler.get_converters(selected))
        if len(_CALENDAR_QUERIES) >= CALENDAR_QUERIES_KEPT:
            _CALENDAR_QUERIES.clear()
        _CALENDAR_QUERIES[key] = compiled
    sql, params, compiler, converters = compiled
    # A prepared statement on PostgreSQL: planning it cost more than running it (issue 16).
    rows: list[Sequence[Any]] = fetch_all(connection, sql, params)
    # What the ORM does to each value read (SQLite's timestamps become aware datetimes).
    return list(compiler.apply_converters(rows, converters)) if converters else rows


# The compiled calendar queries of this process (calendar_rows), emptied when full.
CALENDAR_QUERIES_KEPT = 256
_CALENDAR_QUERIES: dict[tuple[Any, ...], tuple[str, Any, Any, Any]] = {}


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    clinic: Clinic

    @property
    def local_start(self) -> ZonedDateTime:
        """The start as the patient reads it: in the clinic's zone."""
        return in_zone(self.start, self.clinic.tz)

    @property
    def zone_label(self) -> str:
        return zone_label(self.clinic.timezone, self.clinic.tz, self.start)


def clinician_availability(
    *,
    clinician: Clinician,
    appointment_type: AppointmentType,
    start_date: date,
    end_date: date,
    clinic: Clinic | None = None,
    now: datetime | None = None,
) -> list[Slot]:
    """Bookable slots of this type: starts at which its whole length is free (see
    appointments/availability.py). Dates are clinic-local calendar days, inclusive."""
    not_before = now or timezone.now()
    length = appointment_type.duration
    slots = [
        Slot(start, start + length, block.clinic)
        for block in open_blocks(
            clinician_ids=[clinician.pk], start_date=start_date, end_date=end_date, clinic=clinic
        )
        for start in block.starts(length=length, not_before=not_before)
    ]
    slots.sort(key=lambda slot: (slot.start, slot.clinic.pk))
    return slots


def availability_subjects(
    *, clinician_id: int, type_id: int, clinic_id: int | None
) -> tuple[Clinician, timedelta] | None:
    """What an availability request names, read in one statement: the clinician (only its
    id loaded; any other field is read when first touched) and the length of the type,
    when the clinician exists, the type exists and is active, and the clinic, if one is
    named, exists. None when any of them does not: the caller then reads them one by one,
    as the API always has, to say which (clinicians/api/views.py).

    The statement is compiled once per thread, database and shape, and runs as a prepared
    statement on PostgreSQL (nexus.db.prepared): reading the three through the ORM cost
    more CPU than the cached slots they lead to (issue 16)."""
    alias = router.db_for_read(Clinician)
    connection = connections[alias]
    shapes = _compiled_subjects.__dict__.setdefault("shapes", {})
    compiled = shapes.get((alias, clinic_id is not None))
    if compiled is None:
        compiled = shapes[(alias, clinic_id is not None)] = _compile_subjects(
            alias, with_clinic=clinic_id is not None
        )
    sql, order, compiler, converters = compiled
    given = {"clinician": clinician_id, "type": type_id, "clinic": clinic_id}
    rows: Any = fetch_all(connection, sql, [given[name] for name in order])
    if converters:
        rows = list(compiler.apply_converters(rows, converters))
    if not rows:
        return None
    found_id, minutes, *clinic = rows[0]
    if minutes is None or clinic == [None]:
        return None
    return Clinician.from_db(alias, ["id"], [found_id]), timedelta(minutes=minutes)


# Values that stand in for the ids while the statement is compiled, told apart in its
# parameters by value.
_SUBJECT_PROBES = {"clinician": 1, "type": 2, "clinic": 3}
_compiled_subjects = threading.local()  # a compiler holds its thread's connection


def _compile_subjects(alias: str, *, with_clinic: bool) -> tuple[str, list[str], Any, Any]:
    """The SQL of availability_subjects, the order its parameters name the ids in, and
    what converts the values it reads as the ORM would."""
    minutes = (
        AppointmentType.objects.filter(pk=_SUBJECT_PROBES["type"], is_active=True)
        .order_by()
        .values("duration_minutes")
    )
    columns = ["pk", "type_minutes"]
    rows = Clinician.objects.filter(pk=_SUBJECT_PROBES["clinician"]).annotate(
        type_minutes=Subquery(minutes)
    )
    if with_clinic:
        rows = rows.annotate(
            clinic_id=Subquery(
                Clinic.objects.filter(pk=_SUBJECT_PROBES["clinic"]).order_by().values("pk")
            )
        )
        columns.append("clinic_id")
    compiler = rows.order_by().values_list(*columns).query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    names = {value: name for name, value in _SUBJECT_PROBES.items()}
    order = [names[value] for value in params]
    if sorted(order) != sorted(["clinician", "type", *(["clinic"] if with_clinic else [])]):
        raise AssertionError(f"unexpected parameters for availability_subjects: {params!r}")
    selected = [column for column, *_ in compiler.select[: compiler.col_count]]
    return sql, order, compiler, compiler.get_converters(selected)


@dataclass(frozen=True)
class FreeTimes:
    """The API's answer for one clinician, type, clinic and range of days, as its JSON:
    each slot `{"start":…,"end":…,"clinic":…}` with its start and end in the clinic's zone
    (ISO 8601), in order of start then clinic, exactly as DRF's JSONRenderer writes the
    list (tests/appointments/test_availability_api.py compares them)."""

    starts: tuple[float, ...]  # each slot's start, epoch seconds, in order
    offsets: tuple[int, ...]  # where each slot's object begins in `body`
    body: bytes  # the slots' objects, comma-separated

    def json(self, *, not_before: float) -> bytes:
        """The JSON list of the slots that start at or after `not_before` (epoch
        seconds): those are the last ones, the slots being in order of start."""
        first = bisect.bisect_left(self.starts, not_before)
        if first == len(self.starts):
            return b"[]"
        return b"[" + self.body[self.offsets[first] :] + b"]"


def clinician_free_times(
    *,
    clinician_id: int,
    type_id: int,
    length: timedelta,
    start_date: date,
    end_date: date,
    clinic_id: int | None = None,
) -> FreeTimes:
    """`clinician_availability` as the API answers it (FreeTimes), for the appointment type
    `type_id` of this `length`, from the start of time: the caller keeps those from now on.
    Computed and written once and cached until the clinician's diary changes
    (appointments/calendar_cache.py)."""

    def compute() -> tuple[tuple[tuple[float, ...], tuple[int, ...], bytes], float]:
        clinic = None
        if clinic_id is not None:
            clinic = Clinic.objects.filter(pk=clinic_id).first()
            if clinic is None:  # gone since the request's reads: nothing, and not kept
                return ((), (), b""), 0.0
        blocks = open_blocks(
            clinician_ids=[clinician_id], start_date=start_date, end_date=end_date, clinic=clinic
        )
        since_ever = datetime.min.replace(tzinfo=UTC)
        slots = sorted(
            (
                (start, block.clinic)
                for block in blocks
                for start in block.starts(length=length, not_before=since_ever)
            ),
            key=lambda slot: (slot[0], slot[1].pk),
        )
        written = [
            json.dumps(
                {
                    "start": start.astimezone(place.tz).isoformat(),
                    "end": (start + length).astimezone(place.tz).isoformat(),
                    "clinic": place.pk,
                },
                separators=(",", ":"),
            ).encode()
            for start, place in slots
        ]
        offsets = list(itertools.accumulate((len(one) + 1 for one in written[:-1]), initial=0))
        found = (
            tuple(start.timestamp() for start, _ in slots),
            tuple(offsets[: len(written)]),
            b",".join(written),
        )
        if not blocks:
            return found, NEVER
        window = (min(b.start for b in blocks), max(b.end for b in blocks))
        return found, first_hold_lapse([clinician_id], start=window[0], end=window[1])

    # Not the key of the lists this once cached, so a server still running the old code
    # never reads one of these.
    key = (
        f"availability:json:{clinician_id}:{clinic_id or ''}:{type_id}"
        f":{length}:{start_date}:{end_date}"
    )
    starts, offsets, body = cached_by_generation(key, clinician_ids=[clinician_id], compute=compute)
    return FreeTimes(starts=starts, offsets=offsets, body=body)


def appointments_during_time_off(*, leave: TimeOff) -> AppointmentQuerySet:
    """Active appointments that fall in a clinician's time off (at its clinic, or at every
    clinic when it names none): booked before the leave was entered, they need moving."""
    clashes = Appointment.objects.overlapping(leave.start, leave.end).filter(
        clinician_id=leave.clinician_id, status__in=Appointment.ACTIVE_STATUSES
    )
    if leave.clinic_id:
        clashes = clashes.filter(clinic_id=leave.clinic_id)
    return clashes.select_related("patient", "clinic").order_by("start")


def appointments_of_the_day(
    *, user: User, clinic: Clinic, day: date, clinician: Clinician | None = None
) -> AppointmentQuerySet:
    """One clinic-local day's appointments at a clinic (one clinician's when given), in
    order, cancelled ones left out: the dashboard's "today"."""
    start = datetime.combine(day, time.min, tzinfo=clinic.tz)
    appointments = appointment_list(user=user).filter(
        clinic=clinic, start__gte=start, start__lt=start + timedelta(days=1)
    )
    if clinician is not None:
        appointments = appointments.filter(clinician=clinician)
    return appointments.exclude(status=Appointment.Status.CANCELLED).order_by("start")


def booking_starts(
    *,
    clinician: Clinician,
    clinic: Clinic,
    appointment_type: AppointmentType,
    day: date,
    now: datetime | None = None,
) -> list[ZonedDateTime]:
    """The clinic-local start times on `day` at which the whole of this type fits in the
    clinician's free time at this clinic: what the staff booking panel offers. The day's
    times are computed once and cached until the clinician's diary changes
    (appointments/calendar_cache.py); those before `now` are dropped on each call."""
    length = appointment_type.duration

    def compute() -> tuple[tuple[float, ...], float]:
        blocks = open_blocks(
            clinician_ids=[clinician.pk], start_date=day, end_date=day, clinic=clinic
        )
        since_ever = datetime.min.replace(tzinfo=UTC)
        starts = tuple(
            start.timestamp()
            for block in blocks
            for start in block.starts(length=length, not_before=since_ever)
        )
        if not blocks:
            return starts, NEVER
        window = (min(b.start for b in blocks), max(b.end for b in blocks))
        return starts, first_hold_lapse([clinician.pk], start=window[0], end=window[1])

    key = f"calendar:starts:{clinician.pk}:{clinic.pk}:{appointment_type.pk}:{length}:{day}"
    starts = cached_by_generation(key, clinician_ids=[clinician.pk], compute=compute)
    not_before = (now or timezone.now()).timestamp()
    return [
        in_zone(datetime.fromtimestamp(start, UTC), clinic.tz)
        for start in starts
        if start >= not_before
    ]


@dataclass(frozen=True)
class SeriesSummary:
    """A repeat booking as the chart lists it."""

    series: AppointmentSeries
    active: int
    cancelled: int
    next_start: ZonedDateTime | None


def patient_series(*, user: User, patient_id: int, limit: int = 10) -> list[SeriesSummary]:
    """The patient's repeat bookings, latest first, each with how many of its appointments
    still stand, how many were cancelled and when the next one is. One query."""
    now = timezone.now()
    active = Q(appointments__status__in=Appointment.ACTIVE_STATUSES)
    rows = (
        AppointmentSeries.objects.filter(patient_id=patient_id)
        .select_related("clinic", "clinician", "appointment_type")
        .annotate(
            active_count=Count("appointments", filter=active),
            cancelled_count=Count(
                "appointments", filter=Q(appointments__status=Appointment.Status.CANCELLED)
            ),
            next_start=Min("appointments__start", filter=active & Q(appointments__start__gte=now)),
        )
        .order_by("-start", "-id")[:limit]
    )
    return [
        SeriesSummary(
            series=row,
            active=row.active_count,
            cancelled=row.cancelled_count,
            next_start=(in_zone(row.next_start, row.clinic.tz) if row.next_start else None),
        )
        for row in rows
    ]
