"""The staff calendar: one clinic's day or week laid out as columns of clinicians.

Everything is computed in the clinic's own zone, in 15-minute rows, and in a fixed
number of queries whatever the number of clinicians or appointments (clinicians,
working hours, time off, appointments, appointment types).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import quote

from django.db.models import Q
from django.urls import reverse
from django.utils import dateformat

from accounts.models import User
from appointments.availability import open_blocks
from appointments.calendar_cache import NEVER, cached_by_generation, first_hold_lapse
from appointments.calendar_html import free_slot_html
from appointments.models import Appointment, AppointmentType
from appointments.selectors import calendar_rows
from clinicians.models import Clinic, Clinician, TimeOff, WorkingHours
from clinicians.selectors import clinics_open
from nexus.timezones import ZonedDateTime, in_zone

ROW_MINUTES = 15
ROW_PX = 18  # the height of one 15-minute row in the stylesheet
ROW = timedelta(minutes=ROW_MINUTES)
DEFAULT_FIRST_HOUR, DEFAULT_LAST_HOUR = 8, 18


@dataclass
class Placed:
    """Something drawn in a column: top and height in pixels from the column's start."""

    top: int
    height: int

    @property
    def style(self) -> str:
        # Built here, not in the template: a day has hundreds of these, and every number a
        # template prints goes through localisation.
        return f"top: {self.top}px; height: {self.height}px"


@dataclass(frozen=True, slots=True)
class CalendarAppointment:
    """An appointment as the calendar draws it, read as one row of plain values: a model
    instance with its patient, type, clinician and clinic selected cost five objects per
    appointment, more than the rest of the page (issue 16)."""

    pk: int
    start: datetime
    end: datetime
    status: str
    clinician_id: int
    patient_id: int
    given_name: str  # the patient's
    family_name: str
    alerts: str
    type_name: str
    type_colour: str

    @property
    def is_active(self) -> bool:
        return self.status in Appointment.ACTIVE_STATUSES

    def get_status_display(self) -> str:
        return str(Appointment.Status(self.status).label)


# The columns of CalendarAppointment, in its order.
CALENDAR_APPOINTMENT_COLUMNS = (
    "pk",
    "start",
    "end",
    "status",
    "clinician_id",
    "patient_id",
    "patient__given_name",
    "patient__family_name",
    "patient__alerts",
    "appointment_type__name",
    "appointment_type__colour",
)


@dataclass
class PlacedAppointment(Placed):
    appointment: CalendarAppointment
    during_time_off: bool = False  # booked before the time off was added: needs moving
    # Filled in by calendar_page, once per page rather than per template lookup.
    panel_url: str = ""
    move_url: str = ""
    time_label: str = ""  # "9:30", in the clinic's zone


@dataclass
class FreeSlot(Placed):
    start: datetime
    zone: tzinfo  # the clinic's
    book_url: str = ""  # the booking panel for this clinician and time (no patient)
    label: str = ""  # "9:30"
    aria_label: str = ""  # "Book Dr Amelia Nguyen at 9:30 AM Tue 1 Dec"
    html: str = ""  # the link, with PATIENT_MARK where a chosen patient goes (calendar_html)

    @property
    def local_start(self) -> ZonedDateTime:
        return in_zone(self.start, self.zone)


@dataclass
class Column:
    day: date
    clinician: Clinician
    first_of_day: bool
    hours: list[Placed] = field(default_factory=list)
    time_off: list[Placed] = field(default_factory=list)
    appointments: list[PlacedAppointment] = field(default_factory=list)
    free: list[FreeSlot] = field(default_factory=list)


@dataclass
class CalendarPage:
    clinic: Clinic
    days: list[date]
    clinicians: list[Clinician]
    columns: list[Column]
    first_hour: int
    last_hour: int
    types: list[AppointmentType]

    @property
    def height(self) -> int:
        return (self.last_hour - self.first_hour) * 60 // ROW_MINUTES * ROW_PX

    @property
    def hour_marks(self) -> list[tuple[int, str]]:
        step = 60 // ROW_MINUTES * ROW_PX
        return [
            ((hour - self.first_hour) * step, time(hour).strftime("%-I %p").lower())
            for hour in range(self.first_hour, self.last_hour)
        ]


def pk_url(name: str) -> Callable[[int], str]:
    """`reverse(name, kwargs={"pk": pk})` for many pks at the cost of one reverse()."""
    marker = 987654321
    head, tail = reverse(name, kwargs={"pk": marker}).split(str(marker))
    return lambda pk: f"{head}{pk}{tail}"


@dataclass
class PracticeSetup:
    """The open clinics, each one's active clinicians in calendar order and the active
    appointment types: changed only by edits to clinicians, clinics and types, which
    retire everyone's generation. The calendar and the booking panel read them here
    instead of asking the database on every request."""

    clinics: list[Clinic]
    clinicians: dict[int, list[Clinician]]  # by clinic id, by family then given name
    types: list[AppointmentType]

    def clinician_at(self, clinic: Clinic, value: Any) -> Clinician | None:
        """The active clinician at this clinic whose id the query names, as the booking
        form's clinician field cleans it; None when it names none."""
        pk = _pk(value)
        return next((c for c in self.clinicians.get(clinic.pk, []) if c.pk == pk), None)

    def appointment_type(self, value: Any) -> AppointmentType | None:
        """The active appointment type whose id the query names, or None."""
        pk = _pk(value)
        return next((t for t in self.types if t.pk == pk), None)


def _pk(value: Any) -> int | None:
    # As a ModelChoiceField reads an id: int() of it, nothing when that fails.
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def practice_setup() -> PracticeSetup:
    def compute() -> tuple[PracticeSetup, float]:
        clinics = list(clinics_open())
        clinicians = list(
            Clinician.objects.filter(is_active=True)
            .order_by("family_name", "given_name", "pk")
            .only("user", "title", "given_name", "family_name")
        )
        works_at = set(
            Clinician.clinics.through.objects.filter(clinician__is_active=True).values_list(
                "clinic_id", "clinician_id"
            )
        )
        at = {
            clinic.pk: [c for c in clinicians if (clinic.pk, c.pk) in works_at]
            for clinic in clinics
        }
        types = list(AppointmentType.objects.filter(is_active=True))
        return PracticeSetup(clinics, at, types), NEVER

    return cached_by_generation("calendar:practice", clinician_ids=[], compute=compute)


@dataclass
class Grid:
    """What a calendar page shows that is the same for everyone who looks at it, until a
    booking, hold, time off or working-hours change retires it (calendar_cache.py)."""

    hours: dict[int, list[WorkingHours]]  # each clinician's blocks at this clinic, every weekday
    leave: list[TimeOff]
    first_hour: int
    last_hour: int
    # Every free row of each (day, clinician), including those already past: the request
    # drops the ones before now.
    free: dict[tuple[date, int], list[FreeSlot]]


def calendar_page(
    *,
    user: User,
    clinic: Clinic,
    start_day: date,
    days: int,
    clinician_ids: list[int] | None = None,
    show_cancelled: bool = False,
    now: datetime | None = None,
    setup: PracticeSetup | None = None,
) -> CalendarPage:
    """`show_cancelled` adds cancelled and no-show appointments (they never block a slot);
    `setup`: practice_setup(), when the caller has read it already."""
    tz = clinic.tz
    day_list = [start_day + timedelta(days=i) for i in range(days)]
    window_start = datetime.combine(start_day, time.min, tzinfo=tz)
    window_end = datetime.combine(day_list[-1] + timedelta(days=1), time.min, tzinfo=tz)

    setup = setup or practice_setup()
    # Each given .hours_here at this clinic (a clinic that closed since the caller chose
    # it has none).
    clinician_list: list[Any] = setup.clinicians.get(clinic.pk, [])
    if clinician_ids:
        clinician_list = [c for c in clinician_list if c.pk in clinician_ids]
    ids = [c.pk for c in clinician_list]
    grid = cached_by_generation(
        f"calendar:grid:{clinic.pk}:{start_day}:{days}:{','.join(map(str, ids))}",
        clinician_ids=ids,
        compute=lambda: _grid(clinic, clinician_list, day_list, window_start, window_end),
    )
    for clinician in clinician_list:
        clinician.hours_here = grid.hours[clinician.pk]
    leave = grid.leave
    first_hour, last_hour = grid.first_hour, grid.last_hour
    appointments = [
        CalendarAppointment(*row)
        for row in calendar_rows(
            user=user,
            clinic=clinic,
            clinician_ids=ids,
            start=window_start,
            end=window_end,
            columns=CALENDAR_APPOINTMENT_COLUMNS,
            show_cancelled=show_cancelled,
        )
    ]
    now = now or datetime.now(tz)

    panel_url, move_url = pk_url("appointments:panel"), pk_url("appointments:move")
    # Each appointment's column found once, not looked for in every column: a week of one
    # clinician has seven columns, a day of three has three (issue 16).
    placed_in: dict[tuple[date, int], list[tuple[datetime, CalendarAppointment]]] = {}
    for a in appointments:
        local = a.start.astimezone(tz)
        placed_in.setdefault((local.date(), a.clinician_id), []).append((local, a))
    leave_of: dict[int, list[TimeOff]] = {}
    for off in leave:
        leave_of.setdefault(off.clinician_id, []).append(off)
    columns = []
    for day in day_list:
        origin = datetime.combine(day, time(first_hour), tzinfo=tz)
        midnight = origin.replace(hour=0)
        day_end = midnight + timedelta(days=1)
        weekday = day.weekday()

        def place(start: datetime, end: datetime, origin: datetime = origin) -> Placed:
            start_min = (start.astimezone(tz) - origin).total_seconds() / 60
            end_min = (end.astimezone(tz) - origin).total_seconds() / 60
            top = max(0, round(start_min / ROW_MINUTES * ROW_PX))
            return Placed(top, max(ROW_PX, round(end_min / ROW_MINUTES * ROW_PX) - top))

        for index, clinician in enumerate(clinician_list):
            column = Column(day=day, clinician=clinician, first_of_day=index == 0)
            for local, a in placed_in.get((day, clinician.pk), ()):
                spot = place(local, a.end)
                column.appointments.append(
                    PlacedAppointment(
                        spot.top,
                        spot.height,
                        a,
                        panel_url=panel_url(a.pk),
                        move_url=move_url(a.pk),
                        # dateformat's "g:i", without its per-call machinery.
                        time_label=f"{local.hour % 12 or 12}:{local.minute:02d}",
                    )
                )
            for off in leave_of.get(clinician.pk, ()):
                if off.start < day_end and off.end > midnight:
                    column.time_off.append(place(max(off.start, origin), min(off.end, day_end)))
                    for placed in column.appointments:
                        a = placed.appointment
                        if a.is_active and a.start < off.end and a.end > off.start:
                            placed.during_time_off = True
            for block in clinician.hours_here:
                if block.weekday == weekday:
                    column.hours.append(
                        place(
                            datetime.combine(day, block.start_time, tzinfo=tz),
                            datetime.combine(day, block.end_time, tzinfo=tz),
                        )
                    )
            column.free = [
                slot for slot in grid.free.get((day, clinician.pk), []) if slot.start >= now
            ]
            columns.append(column)

    if days > 1:
        # A week shows only the days someone works (or has an appointment) here.
        worked = {c.day for c in columns if c.hours or c.appointments}
        columns = [c for c in columns if c.day in worked]
        day_list = [d for d in day_list if d in worked]
        for index, column in enumerate(columns):
            column.first_of_day = index == 0 or columns[index - 1].day != column.day

    return CalendarPage(
        clinic=clinic,
        days=day_list,
        clinicians=clinician_list,
        columns=columns,
        first_hour=first_hour,
        last_hour=last_hour,
        types=setup.types,
    )


def _grid(
    clinic: Clinic,
    clinician_list: list[Clinician],
    day_list: list[date],
    window_start: datetime,
    window_end: datetime,
) -> tuple[Grid, float]:
    """The grid of these clinicians on these days, and when it lapses (the first live
    online hold in it expires). Four queries, five with a hold in the window."""
    tz = clinic.tz
    ids = [c.pk for c in clinician_list]
    clinicians = {c.pk: c for c in clinician_list}
    # As prefetch_related("working_hours") would, without its per-request machinery.
    hours_of: dict[int, list[WorkingHours]] = {pk: [] for pk in ids}
    for block in WorkingHours.objects.filter(clinic=clinic, clinician_id__in=ids):
        hours_of[block.clinician_id].append(block)
    leave = list(
        TimeOff.objects.filter(clinician_id__in=ids, start__lt=window_end, end__gt=window_start)
        .filter(Q(clinic=clinic) | Q(clinic__isnull=True))
        .only("clinician_id", "clinic_id", "start", "end")
    )
    hours = [h for pk in ids for h in hours_of[pk]]
    first = min([h.start_time.hour for h in hours], default=DEFAULT_FIRST_HOUR)
    last = max([h.end_time.hour + (1 if h.end_time.minute else 0) for h in hours], default=0)
    first_hour, last_hour = min(first, DEFAULT_FIRST_HOUR), max(last, DEFAULT_LAST_HOUR)
    book_url = reverse("appointments:book")
    free: dict[tuple[date, int], list[FreeSlot]] = {}
    # Free rows come from the availability engine, which also counts the clinicians'
    # appointments at other clinics: they cannot be in two places at once. Every row of
    # the day is kept, past ones too, so the entry serves the whole day.
    since_ever = datetime.min.replace(tzinfo=UTC)
    blocks = open_blocks(
        clinician_ids=ids,
        start_date=day_list[0],
        end_date=day_list[-1],
        clinic=clinic,
        hours=hours,
        time_off=leave,
    )
    for open_block in blocks:
        day = open_block.day
        clinician = clinicians[open_block.clinician_id]
        origin = datetime.combine(day, time(first_hour), tzinfo=tz)
        day_label = dateformat.format(day, "D j M")
        column = free.setdefault((day, clinician.pk), [])
        for slot in open_block.starts(length=ROW, step=ROW, not_before=since_ever):
            local = in_zone(slot, tz)
            start_min = (slot.astimezone(tz) - origin).total_seconds() / 60
            top = max(0, round(start_min / ROW_MINUTES * ROW_PX))
            query = (
                f"clinic={clinic.pk}&clinician={clinician.pk}"
                f"&start={quote(dateformat.format(local, 'c'), safe='/')}"
            )
            placed = FreeSlot(
                top,
                max(ROW_PX, round((start_min + ROW_MINUTES) / ROW_MINUTES * ROW_PX) - top),
                slot.astimezone(tz),
                tz,
                book_url=f"{book_url}?{query}",
                label=dateformat.time_format(local, "g:i"),
                aria_label=(
                    f"Book {clinician} at {dateformat.time_format(local, 'g:i A')} {day_label}"
                ),
            )
            placed.html = free_slot_html(placed)
            column.append(placed)
    grid = Grid(hours_of, leave, first_hour, last_hour, free)
    return grid, first_hold_lapse(ids, start=window_start, end=window_end) if blocks else NEVER
