"""Reads of the schedule: appointment lists and free slots."""

import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

from accounts.models import User
from appointments.models import Appointment, AppointmentQuerySet, AppointmentType
from clinicians.models import Clinic, Clinician, TimeOff, WorkingHours
from nexus.timezones import ZonedDateTime, in_zone, zone_label

# Slots start on this grid within a working-hours block, so a 45-minute type can still be
# offered at 09:15 after a 30-minute appointment that began at 08:45.
SLOT_STEP = timedelta(minutes=15)
MAX_AVAILABILITY_DAYS = 62


def appointment_list(*, user: User) -> AppointmentQuerySet:
    # Only the related columns the read serializer shows: a full patient row would also
    # parse two phone numbers per appointment.
    return Appointment.objects.select_related(
        "patient", "clinician", "clinic", "appointment_type"
    ).only(
        *(f.name for f in Appointment._meta.concrete_fields if not f.is_relation),
        "patient__given_name",
        "patient__family_name",
        "patient__alerts",  # on the calendar block and the panel
        "clinician__title",
        "clinician__given_name",
        "clinician__family_name",
        "clinic__timezone",
        "appointment_type__name",
        "appointment_type__colour",
    )


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


class _Busy:
    """Disjoint, sorted busy intervals answering "does [start, end) touch any?" in O(log n)."""

    def __init__(self, intervals: list[tuple[datetime, datetime]]) -> None:
        merged: list[list[datetime]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self._starts = [s for s, _ in merged]
        self._ends = [e for _, e in merged]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        i = bisect.bisect_left(self._starts, end) - 1
        return i >= 0 and self._ends[i] > start


def clinician_availability(
    *,
    clinician: Clinician,
    appointment_type: AppointmentType,
    start_date: date,
    end_date: date,
    clinic: Clinic | None = None,
    now: datetime | None = None,
) -> list[Slot]:
    """Free slots: working hours minus time off minus active appointments.

    Dates are clinic-local calendar days, inclusive. Working hours are wall-clock times in the
    clinic's zone, so each block is converted to UTC per day: a 09:00-17:00 block is eight real
    hours even on the day Sydney's clocks change, and 09:00 stays 09:00 on both sides.
    Three queries whatever the range: working hours, appointments, time off.
    """
    now = now or timezone.now()
    hours = list(
        WorkingHours.objects.filter(clinician=clinician, clinic__is_active=True)
        .filter(**({"clinic": clinic} if clinic else {}))
        .select_related("clinic")
    )
    if not hours:
        return []
    # A generous UTC window covering every zone's version of the requested days.
    window_start = datetime.combine(start_date, datetime.min.time(), tzinfo=UTC) - timedelta(days=1)
    window_end = datetime.combine(end_date, datetime.min.time(), tzinfo=UTC) + timedelta(days=2)
    booked = list(
        Appointment.objects.overlapping(window_start, window_end)
        .filter(clinician=clinician, status__in=Appointment.ACTIVE_STATUSES)
        .values_list("start", "end")
    )
    leave = list(
        TimeOff.objects.filter(
            clinician=clinician, start__lt=window_end, end__gt=window_start
        ).values_list("clinic_id", "start", "end")
    )
    busy_by_clinic: dict[int, _Busy] = {}
    duration = appointment_type.duration
    slots: list[Slot] = []
    day = start_date
    while day <= end_date:
        for block in hours:
            if block.weekday != day.weekday():
                continue
            tz = block.clinic.tz
            if block.clinic_id not in busy_by_clinic:
                busy_by_clinic[block.clinic_id] = _Busy(
                    booked + [(s, e) for c, s, e in leave if c in (None, block.clinic_id)]
                )
            busy = busy_by_clinic[block.clinic_id]
            block_start = datetime.combine(day, block.start_time, tzinfo=tz).astimezone(UTC)
            block_end = datetime.combine(day, block.end_time, tzinfo=tz).astimezone(UTC)
            candidate = block_start
            while candidate + duration <= block_end:
                if candidate >= now and not busy.overlaps(candidate, candidate + duration):
                    slots.append(Slot(candidate, candidate + duration, block.clinic))
                candidate += SLOT_STEP
        day += timedelta(days=1)
    slots.sort(key=lambda slot: (slot.start, slot.clinic.pk))
    return slots
