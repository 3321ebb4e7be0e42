"""The calendar's grid (column heads, hour marks, working hours, time off, free times and
appointment blocks) as HTML, built in Python.

A full day of three clinicians draws a few dozen free times and appointments and a week of
one clinician a hundred or more; through the template engine each costs a dozen variable
lookups, each lookup trying a dict key, an attribute and a call before escaping, and the
grid's nested loops cost more than the rest of the page together. Joined here they cost a
fraction of that (issue 16). The markup is exactly what calendar.html used to write
inline, whitespace included, so a page is byte-for-byte the same; every value that is not
built here from numbers goes through `escape`, as the template's autoescaping did.
"""

from collections.abc import Collection
from datetime import date
from html import escape as html_escape
from typing import TYPE_CHECKING

from django.utils import dateformat
from django.utils.safestring import SafeString, mark_safe

if TYPE_CHECKING:  # calendar.py builds the free times' links with free_slot_html
    from appointments.calendar import CalendarPage, FreeSlot, PlacedAppointment

# Where the chosen patient goes in a free time's link ("Book" from a chart). The links are
# cached without it (appointments/calendar_cache.py); NUL never comes out of `escape` on a
# database value (PostgreSQL text cannot hold it), so the mark cannot clash with content.
PATIENT_MARK = "\x00patient\x00"


def escape(value: object) -> str:
    """What django.utils.html.escape returns, without its lazy-string check and SafeString
    copy: on the grid's several hundred values they cost more than the escaping."""
    return html_escape(str(value))


def calendar_grid_html(
    page: "CalendarPage",
    *,
    week: bool,
    for_patient_id: int | None,
    movable: Collection[str],
    row_px: int,
    row_minutes: int,
) -> SafeString:
    """The `<div class="calendar">` element; `week`: the columns name their days."""
    patient = f"&amp;patient={for_patient_id}" if for_patient_id else ""
    heads = []
    columns = []
    # Formatted once per day, status and type, not once per column or appointment.
    day_labels: dict[date, tuple[str, str, str]] = {}
    known: dict[tuple[str, ...], tuple[str, str]] = {}
    for column in page.columns:
        start = " day-start" if week and column.first_of_day else ""
        clinician = escape(str(column.clinician))
        if column.day not in day_labels:
            day_labels[column.day] = _day_labels(column.day)
        short_day, long_day, iso_day = day_labels[column.day]
        day = f'<span class="cal-day">{short_day}</span>' if week else ""
        heads.append(
            f'\n      <div class="cal-head{start}">\n        {day}\n'
            f"        <span>{clinician}</span>\n      </div>\n    "
        )
        hours = "".join(
            f'<div class="cal-hours" style="{escape(block.style)}"></div>' for block in column.hours
        )
        off = "".join(
            f'<div class="cal-off" style="{escape(block.style)}" title="Time off"></div>'
            for block in column.time_off
        )
        free = "".join(slot.html or free_slot_html(slot) for slot in column.free)
        appointments = "".join(
            _appointment_html(placed, movable, known) for placed in column.appointments
        )
        columns.append(
            f'\n      <section class="cal-col{start}"'
            f' aria-label="{clinician}, {long_day}"'
            f' data-clinician="{column.clinician.pk}"'
            f' data-day="{iso_day}">'
            f"\n        {hours}\n        {off}\n        {free.replace(PATIENT_MARK, patient)}"
            f"\n        {appointments}\n      </section>\n    "
        )
    marks = "".join(
        f'<span style="top: {top}px">{escape(label)}</span>' for top, label in page.hour_marks
    )
    return mark_safe(  # noqa: S308 - every value is escaped above and in free_slot_html
        f'<div class="calendar" style="--columns: {len(page.columns)}; --height: {page.height}px"'
        f' data-first-hour="{page.first_hour}" data-row-px="{row_px}"'
        f' data-row-minutes="{row_minutes}">\n    <div class="cal-corner"></div>\n    '
        + "".join(heads)
        + f'\n    <div class="cal-gutter">\n      {marks}\n    </div>\n    '
        + "".join(columns)
        + "\n  </div>"
    )


def _day_labels(day: date) -> tuple[str, str, str]:
    """A column's day as its head ("Tue 1"), its label ("Tuesday 1 December") and its
    data-day ("2026-12-01") print it, escaped."""
    return (
        escape(dateformat.format(day, "D j")),
        escape(dateformat.format(day, "l j F")),
        escape(dateformat.format(day, "Y-m-d")),
    )


def free_slot_html(slot: "FreeSlot") -> str:
    """A free time's link, with PATIENT_MARK where the chosen patient's id goes."""
    url = escape(slot.book_url) + PATIENT_MARK
    return (
        f'\n          <a class="cal-free" data-start="{escape(slot.start.isoformat())}"'
        f' style="{escape(slot.style)}"'
        f'\n             href="{url}"'
        f'\n             hx-get="{url}"'
        f'\n             hx-target="#panel" aria-label="{escape(slot.aria_label)}">'
        f"<span>{escape(slot.label)}</span></a>\n        "
    )


def _appointment_html(
    placed: "PlacedAppointment",
    movable: Collection[str],
    known: dict[tuple[str, ...], tuple[str, str]],
) -> str:
    """`known`: what every block of a status or type shares, escaped once per page. The
    style, time label and start are built from numbers (calendar.py) and need no escaping."""
    a = placed.appointment
    status_key, type_key = ("status", a.status), ("type", a.type_name, a.type_colour)
    if status_key not in known:
        known[status_key] = (escape(a.status), escape(a.get_status_display()))
    if type_key not in known:
        known[type_key] = (escape(a.type_colour), escape(a.type_name))
    (status, status_label), (colour, type_name) = known[status_key], known[type_key]
    alerts = escape(a.alerts) if a.alerts else ""
    clash = " during-time-off" if placed.during_time_off else ""
    move = f' draggable="true" data-move="{escape(placed.move_url)}"' if a.status in movable else ""
    flag = (
        f'<span class="alert-flag" aria-hidden="true" title="{alerts}">⚠</span> ' if alerts else ""
    )
    panel = escape(placed.panel_url)
    return (
        f'\n          \n          <a class="cal-appt status-{status}{clash}"'
        f' style="{placed.style}; --type: {colour}"'
        f'\n             data-appointment="{a.pk}" data-start="{a.start.isoformat()}"{move}'
        f'\n             href="{panel}" hx-get="{panel}" hx-target="#panel">'
        f"\n            <strong>{flag}{escape(a.given_name)} {escape(a.family_name)}"
        "</strong>"
        "\n            "
        + (f'<span class="visually-hidden">Alert: {alerts}</span>' if alerts else "")
        + f"\n            <span>{placed.time_label} {type_name}</span>"
        f'\n            <span class="visually-hidden">{status_label}</span>'
        "\n            "
        + (
            '<span class="time-off-clash">During time off: move it</span>'
            if placed.during_time_off
            else ""
        )
        + "\n          </a>\n          \n        "
    )
