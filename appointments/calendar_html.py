"""The calendar's free times and appointment blocks as HTML, built in Python.

A full day of three clinicians draws a few dozen of these and a week of one clinician a
hundred or more; through the template engine each costs a dozen variable lookups, each
lookup trying a dict key, an attribute and a call before escaping. Joined here they cost
a fraction of that (issue 16). The markup is exactly what calendar.html used to write
inline, whitespace included, so a page is byte-for-byte the same; every value goes
through `escape`, as the template's autoescaping did.
"""

from collections.abc import Collection
from typing import TYPE_CHECKING

from django.utils.html import escape
from django.utils.safestring import mark_safe

if TYPE_CHECKING:  # calendar.py builds the free times' links with free_slot_html
    from appointments.calendar import CalendarPage, FreeSlot, PlacedAppointment

# Where the chosen patient goes in a free time's link ("Book" from a chart). The links are
# cached without it (appointments/calendar_cache.py); NUL never comes out of `escape` on a
# database value (PostgreSQL text cannot hold it), so the mark cannot clash with content.
PATIENT_MARK = "\x00patient\x00"


def calendar_cells_html(
    page: "CalendarPage", *, for_patient_id: int | None, movable: Collection[str]
) -> None:
    """Fill in each column's `free_html` and `appointments_html`."""
    patient = f"&amp;patient={for_patient_id}" if for_patient_id else ""
    for column in page.columns:
        free = "".join(slot.html or free_slot_html(slot) for slot in column.free)
        column.free_html = mark_safe(  # noqa: S308 - every value is escaped in free_slot_html
            free.replace(PATIENT_MARK, patient)
        )
        column.appointments_html = mark_safe(  # noqa: S308 - every value is escaped below
            "".join(_appointment_html(placed, movable) for placed in column.appointments)
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


def _appointment_html(placed: "PlacedAppointment", movable: Collection[str]) -> str:
    a = placed.appointment
    patient = a.patient
    kind = a.appointment_type
    alerts = escape(patient.alerts) if patient.alerts else ""
    clash = " during-time-off" if placed.during_time_off else ""
    move = f' draggable="true" data-move="{escape(placed.move_url)}"' if a.status in movable else ""
    flag = (
        f'<span class="alert-flag" aria-hidden="true" title="{alerts}">⚠</span> ' if alerts else ""
    )
    panel = escape(placed.panel_url)
    return (
        f'\n          \n          <a class="cal-appt status-{escape(a.status)}{clash}"'
        f' style="{escape(placed.style)}; --type: {escape(kind.colour)}"'
        f'\n             data-appointment="{a.pk}" data-start="{escape(a.start.isoformat())}"{move}'
        f'\n             href="{panel}" hx-get="{panel}" hx-target="#panel">'
        f"\n            <strong>{flag}{escape(patient.given_name)} {escape(patient.family_name)}"
        "</strong>"
        "\n            "
        + (f'<span class="visually-hidden">Alert: {alerts}</span>' if alerts else "")
        + f"\n            <span>{escape(placed.time_label)} {escape(kind.name)}</span>"
        f'\n            <span class="visually-hidden">{escape(a.get_status_display())}</span>'
        "\n            "
        + (
            '<span class="time-off-clash">During time off: move it</span>'
            if placed.during_time_off
            else ""
        )
        + "\n          </a>\n          \n        "
    )
