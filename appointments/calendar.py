"""The staff calendar: one clinic's day or week laid out as columns of clinicians.

Everything is computed in the clinic's own zone, in 15-minute rows, and in a fixed
number of queries whatever the number of clinicians or appointments (clinicians,
working hours, time off, appointments, appointment types).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import quote

from django.db.models import Q
from django.urls import reverse
from django.utils import dateformat

from accounts.models import User
from appointments.availability import OpenBlock, open_blocks
from appointments.models import Appointment, AppointmentType
from appointments.selectors import appointment_list
from clinicians.models import Clinic, Clinician, TimeOff, WorkingHours
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


@dataclass
class PlacedAppointment(Placed):
    appointment: Appointment
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
    # The free times and appointments as markup (appointments/calendar_html.py).
    free_html: str = ""
    appointments_html: str = ""


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


def calendar_page(
    *,
    user: User,
    clinic: Clinic,
    start_day: date,
    days: int,
    clinician_ids: list[int] | None = None,
    show_cancelled: bool = False,
    now: datetime | None = None,
) -> CalendarPage:
    """`show_cancelled` adds cancelled and no-show appointments (they never block a slot)."""
    tz = clinic.tz
    day_list = [start_day + timedelta(days=i) for i in range(days)]
    window_start = datetime.combine(start_day, time.min, tzinfo=tz)
    window_end = datetime.combine(day_list[-1] + timedelta(days=1), time.min, tzinfo=tz)

    clinicians = Clinician.objects.filter(clinics=clinic, is_active=True).order_by(
        "family_name", "given_name"
    )
    if clinician_ids:
        clinicians = clinicians.filter(pk__in=clinician_ids)
    clinician_list: list[Any] = list(clinicians)  # each given .hours_here at this clinic
    ids = [c.pk for c in clinician_list]
    # As prefetch_related("working_hours") would, without its per-request machinery.
    hours_of: dict[int, list[WorkingHours]] = {pk: [] for pk in ids}
    for block in WorkingHours.objects.filter(clinic=clinic, clinician_id__in=ids):
        hours_of[block.clinician_id].append(block)
    for clinician in clinician_list:
        clinician.hours_here = hours_of[clinician.pk]
    leave = list(
        TimeOff.objects.filter(clinician_id__in=ids, start__lt=window_end, end__gt=window_start)
        .filter(Q(clinic=clinic) | Q(clinic__isnull=True))
        .only("clinician_id", "clinic_id", "start", "end")
    )
    shown = appointment_list(user=user).overlapping(window_start, window_end)
    if not show_cancelled:
        shown = shown.exclude(status__in=[Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW])
    appointments = list(shown.filter(clinic=clinic, clinician_id__in=ids).order_by("start"))
    hours = [h for c in clinician_list for h in c.hours_here]
    first = min([h.start_time.hour for h in hours], default=DEFAULT_FIRST_HOUR)
    last = max([h.end_time.hour + (1 if h.end_time.minute else 0) for h in hours], default=0)
    first_hour, last_hour = min(first, DEFAULT_FIRST_HOUR), max(last, DEFAULT_LAST_HOUR)
    now = now or datetime.now(tz)
    # Free rows come from the availability engine, which also counts the clinicians'
    # appointments at other clinics: they cannot be in two places at once.
    free_by_column: dict[tuple[date, int], list[OpenBlock]] = {}
    for open_block in open_blocks(
        clinician_ids=ids,
        start_date=start_day,
        end_date=day_list[-1],
        clinic=clinic,
        hours=hours,
        time_off=leave,
    ):
        free_by_column.setdefault((open_block.day, open_block.clinician_id), []).append(open_block)

    panel_url, move_url = pk_url("appointments:panel"), pk_url("appointments:move")
    book_url = reverse("appointments:book")
    columns = []
    for day in day_list:
        day_label = dateformat.format(day, "D j M")
        origin = datetime.combine(day, time(first_hour), tzinfo=tz)
        for index, clinician in enumerate(clinician_list):
            column = Column(day=day, clinician=clinician, first_of_day=index == 0)

            def place(start: datetime, end: datetime, origin: datetime = origin) -> Placed:
                start_min = (start.astimezone(tz) - origin).total_seconds() / 60
                end_min = (end.astimezone(tz) - origin).total_seconds() / 60
                top = max(0, round(start_min / ROW_MINUTES * ROW_PX))
                return Placed(top, max(ROW_PX, round(end_min / ROW_MINUTES * ROW_PX) - top))

            for a in appointments:
                if a.clinician_id == clinician.pk and a.start.astimezone(tz).date() == day:
                    spot = place(a.start, a.end)
                    column.appointments.append(
                        PlacedAppointment(
                            spot.top,
                            spot.height,
                            a,
                            panel_url=panel_url(a.pk),
                            move_url=move_url(a.pk),
                            time_label=dateformat.time_format(in_zone(a.start, tz), "g:i"),
                        )
                    )
            for off in leave:
                if off.clinician_id == clinician.pk:
                    day_end = origin.replace(hour=0) + timedelta(days=1)
                    if off.start < day_end and off.end > origin.replace(hour=0):
                        column.time_off.append(place(max(off.start, origin), min(off.end, day_end)))
                        for placed in column.appointments:
                            a = placed.appointment
                            if a.is_active and a.start < off.end and a.end > off.start:
                                placed.during_time_off = True
            for block in clinician.hours_here:
                if block.weekday == day.weekday():
                    column.hours.append(
                        place(
                            datetime.combine(day, block.start_time, tzinfo=tz),
                            datetime.combine(day, block.end_time, tzinfo=tz),
                        )
                    )
            for open_block in free_by_column.get((day, clinician.pk), []):
                for slot in open_block.starts(length=ROW, step=ROW, not_before=now):
                    spot = place(slot, slot + ROW)
                    local = in_zone(slot, tz)
                    query = (
                        f"clinic={clinic.pk}&clinician={clinician.pk}"
                        f"&start={quote(dateformat.format(local, 'c'), safe='/')}"
                    )
                    column.free.append(
                        FreeSlot(
                            spot.top,
                            spot.height,
                            slot.astimezone(tz),
                            tz,
                            book_url=f"{book_url}?{query}",
                            label=dateformat.time_format(local, "g:i"),
                            aria_label=(
                                f"Book {clinician} at {dateformat.time_format(local, 'g:i A')}"
                                f" {day_label}"
                            ),
                        )
                    )
            columns.append(column)

    if days > 1:
        # A week shows only the days someone works (or has an appointment) here.
        worked = {c.day for c in columns if c.hours or c.appointments}
        columns = [c for c in columns if c.day in worked]
        day_list = [d for d in day_list if d in worked]
        for index, column in enumerate(columns):
            column.first_of_day = index == 0 or columns[index - 1].day != column.day

    types = list(AppointmentType.objects.filter(is_active=True).only("name", "colour"))
    return CalendarPage(
        clinic=clinic,
        days=day_list,
        clinicians=clinician_list,
        columns=columns,
        first_hour=first_hour,
        last_hour=last_hour,
        types=types,
    )
