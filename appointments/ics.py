"""One appointment as an iCalendar (RFC 5545) file, for "add to calendar".

Times are written in UTC (the trailing Z), which every calendar reads correctly and
shows in the reader's own zone; X-WR-TIMEZONE names the clinic's zone for calendars that
use it as the display hint. The UID is the appointment's own, so downloading the file
again after a move updates the event rather than adding a second one (SEQUENCE rises with
each change). No patient data: the type of visit, the clinician and the clinic.
"""

from datetime import UTC, datetime

from django.utils import timezone

from appointments.models import Appointment


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    chunk = b""
    for char in line:
        encoded = char.encode()
        if len(chunk) + len(encoded) > (75 if not parts else 74):
            parts.append(chunk.decode())
            chunk = b""
        chunk += encoded
    parts.append(chunk.decode())
    return "\r\n ".join(parts)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def appointment_ics(*, appointment: Appointment, host: str, now: datetime | None = None) -> str:
    clinic = appointment.clinic
    where = ", ".join(filter(None, [clinic.name, clinic.address]))
    phone = clinic.phone.as_national if clinic.phone else ""
    about = f"{appointment.appointment_type.name} with {appointment.clinician.display_name}"
    description = f"{about} at {clinic.name}." + (
        f" To change or cancel, call {phone}." if phone else ""
    )
    cancelled = appointment.status == Appointment.Status.CANCELLED
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Nexus//Online booking//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-TIMEZONE:{clinic.timezone}",
        "BEGIN:VEVENT",
        f"UID:appointment-{appointment.pk}@{host}",
        f"DTSTAMP:{_utc(now or timezone.now())}",
        f"DTSTART:{_utc(appointment.start)}",
        f"DTEND:{_utc(appointment.end)}",
        f"SEQUENCE:{int(appointment.updated_at.timestamp())}",
        f"SUMMARY:{_escape(about)}",
        f"LOCATION:{_escape(where)}",
        f"DESCRIPTION:{_escape(description)}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
