"""Repeat bookings: which times a series would take and what stands in each one's way
(the preview), booking the chosen ones all together, and cancelling the rest of a course.

The preview asks the one availability engine (appointments/availability.py) about working
hours and time off, and the clinician's appointments about clashes. Booking goes through
`appointment_book` for every occurrence, inside one transaction: the database's overlap
rule decides a race exactly as for a single booking, and any refusal part-way undoes the
whole series, so a course is never booked partly by accident.
"""

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import structlog
from django.db import transaction

from accounts.models import User
from appointments.availability import OpenBlock, open_blocks
from appointments.models import (
    MAX_APPOINTMENT_LENGTH,
    Appointment,
    AppointmentSeries,
    AppointmentType,
)
from appointments.recurrence import SeriesRule, occurrence_starts
from appointments.services import (
    appointment_book,
    appointment_cancel,
    appointment_notify,
    appointment_reschedule,
    check_bookable,
    check_clinician_at,
    check_override,
)
from clinicians.models import Clinic, Clinician
from integrations.models import Message
from nexus.errors import (
    DomainError,
    InvalidTransition,
    SeriesConflict,
    SlotUnavailable,
    ValidationFailed,
)
from patients.models import Patient

log = structlog.get_logger(__name__)

# Why an occurrence cannot be booked as it stands. The first two are the codes a single
# booking answers with; time off is told apart so reception knows to move, not override.
CLASH = SlotUnavailable.code  # "slot_unavailable"
TIME_OFF = "time_off"
OUTSIDE_HOURS = "outside_working_hours"


@dataclass(frozen=True)
class Occurrence:
    start: datetime  # UTC
    end: datetime
    conflict: str | None

    def as_dict(self, clinic: Clinic) -> dict[str, Any]:
        tz = clinic.tz
        return {
            "start": self.start.astimezone(tz).isoformat(),
            "end": self.end.astimezone(tz).isoformat(),
            "conflict": self.conflict,
        }


def _clash(detail: str, *, clashes: list[Occurrence], clinic: Clinic) -> SeriesConflict:
    return SeriesConflict(detail, clashes=[o.as_dict(clinic) for o in clashes])


def series_preview(
    *,
    clinician: Clinician,
    clinic: Clinic,
    appointment_type: AppointmentType,
    start: datetime,
    rule: SeriesRule,
    override_working_hours: bool = False,
    moves: Mapping[datetime, datetime] | None = None,
) -> list[Occurrence]:
    """Every occurrence of the rule from `start`, each with what stops it being booked
    (None when nothing does). `moves` maps the start of an occurrence to the time it is
    moved to instead (reception moving a week that clashes). Four queries, however long
    the series."""
    check_clinician_at(clinician=clinician, clinic=clinic)
    tz = clinic.tz
    length = appointment_type.duration
    starts = _moved(occurrence_starts(start=start, tz=tz, rule=rule), moves or {}, tz)

    # The clinician's active appointments anywhere in the series' span, sorted by start:
    # the candidates for a clash with [s, e) start in (s - longest appointment, e).
    booked = list(
        Appointment.objects.overlapping(starts[0], starts[-1] + length)
        .filter(clinician=clinician, status__in=Appointment.ACTIVE_STATUSES)
        .order_by("start")
        .values_list("start", "end")
    )
    booked_starts = [s for s, _ in booked]

    def clashes(s: datetime, e: datetime) -> bool:
        lo = bisect.bisect_right(booked_starts, s - MAX_APPOINTMENT_LENGTH)
        hi = bisect.bisect_left(booked_starts, e)
        return any(b_end > s for _, b_end in booked[lo:hi])

    blocks_by_day: dict[date, list[OpenBlock]] = {}
    if not override_working_hours:
        for block in open_blocks(
            clinician_ids=[clinician.pk],
            start_date=starts[0].astimezone(tz).date(),
            end_date=starts[-1].astimezone(tz).date(),
            clinic=clinic,
        ):
            blocks_by_day.setdefault(block.day, []).append(block)

    def hours_conflict(s: datetime, e: datetime) -> str | None:
        if override_working_hours:
            return None
        around = [
            b for b in blocks_by_day.get(s.astimezone(tz).date(), []) if b.start <= s and e <= b.end
        ]
        if not around:
            return OUTSIDE_HOURS
        if any(
            free_start <= s and e <= free_end for b in around for free_start, free_end in b.free
        ):
            return None
        return TIME_OFF  # inside working hours, not clashing, yet not free: time off

    def clashes_sibling(i: int, s: datetime, e: datetime) -> bool:
        # Unmoved occurrences are whole weeks apart; a moved one may land on another.
        return any(o < e and s < o + length for j, o in enumerate(starts) if j != i)

    occurrences = []
    for i, s in enumerate(starts):
        e = s + length
        clash = clashes(s, e) or (bool(moves) and clashes_sibling(i, s, e))
        conflict = CLASH if clash else hours_conflict(s, e)
        occurrences.append(Occurrence(start=s, end=e, conflict=conflict))
    return occurrences


def _moved(starts: list[datetime], moves: Mapping[datetime, datetime], tz: Any) -> list[datetime]:
    """The rule's starts with the moved ones replaced, in order of the new times."""
    unknown = [m for m in moves if m not in starts]
    if unknown:
        raise ValidationFailed(
            f"{unknown[0].astimezone(tz):%a %-d %b %Y %H:%M} is not a time in this series.",
            field="moves",
        )
    return sorted(moves.get(s, s).astimezone(UTC) for s in starts)


@transaction.atomic
def appointment_series_book(
    *,
    patient: Patient,
    clinician: Clinician,
    clinic: Clinic,
    appointment_type: AppointmentType,
    start: datetime,
    rule: SeriesRule,
    skip_conflicts: bool = False,
    override_working_hours: bool = False,
    notes: str = "",
    created_by: User | None = None,
    moves: Mapping[datetime, datetime] | None = None,
) -> AppointmentSeries:
    """Book every occurrence of the rule (at its moved time, for those in `moves`), or
    every free one with `skip_conflicts`; all of them or none. One confirmation text goes
    out, for the first appointment."""
    check_override(by=created_by, override_working_hours=override_working_hours)
    check_bookable(patient=patient, appointment_type=appointment_type)
    occurrences = series_preview(
        clinician=clinician,
        clinic=clinic,
        appointment_type=appointment_type,
        start=start,
        rule=rule,
        override_working_hours=override_working_hours,
        moves=moves,
    )
    blocked = [o for o in occurrences if o.conflict is not None]
    chosen = [o for o in occurrences if o.conflict is None]
    if blocked and not skip_conflicts:
        raise _clash(
            f"{len(blocked)} of the {len(occurrences)} times cannot be booked; "
            "skip them or choose another time.",
            clashes=blocked,
            clinic=clinic,
        )
    if not chosen:
        raise _clash("None of the times in this series is free.", clashes=blocked, clinic=clinic)
    series = AppointmentSeries.objects.create(
        patient=patient,
        clinician=clinician,
        clinic=clinic,
        appointment_type=appointment_type,
        start=start,  # the rule's anchor, even when its first time was moved
        rule=rule.to_rrule(clinic.tz),
        skipped=[{"start": o.start.isoformat(), "conflict": o.conflict} for o in blocked],
        created_by=created_by,
    )
    for number, occurrence in enumerate(chosen):
        try:
            appointment = appointment_book(
                patient=patient,
                clinician=clinician,
                clinic=clinic,
                appointment_type=appointment_type,
                start=occurrence.start,
                end=occurrence.end,
                notes=notes,
                created_by=created_by,
                override_working_hours=override_working_hours,
                series=series,
                notify=False,
            )
        except SlotUnavailable as exc:
            # Taken since the preview, by a booking that committed while this one ran:
            # raising out of the transaction undoes the occurrences booked before it.
            taken = Occurrence(start=occurrence.start, end=occurrence.end, conflict=CLASH)
            raise _clash(
                "A time in this series was booked by someone else just now; nothing was booked.",
                clashes=[taken],
                clinic=clinic,
            ) from exc
        if number == 0:
            appointment_notify(appointment=appointment, kind=Message.Kind.CONFIRMATION)
    log.info(
        "appointment_series.booked",
        series_id=series.pk,
        booked=len(chosen),
        skipped=len(blocked),
        override=override_working_hours,
    )
    return series


def _following(appointment: Appointment) -> list[Appointment]:
    """This occurrence and the later ones of its series that can still change."""
    return list(
        Appointment.objects.select_for_update()
        .filter(
            series_id=appointment.series_id,
            start__gte=appointment.start,
            status__in=[Appointment.Status.BOOKED, Appointment.Status.CONFIRMED],
        )
        .select_related("clinic", "clinician", "patient", "appointment_type")
        .order_by("start")
    )


@transaction.atomic
def appointment_series_move_following(
    *,
    appointment: Appointment,
    start: datetime,
    clinician: Clinician | None = None,
    override_working_hours: bool = False,
    by: User | None = None,
) -> list[Appointment]:
    """Move this occurrence to `start` and each later booked one of its series the same
    way: as many days on, at the new clinic-local time (so across a daylight-saving change
    10:00 stays 10:00). All of them move or none: any refusal undoes the rest."""
    if appointment.series_id is None:
        raise InvalidTransition("This appointment is not part of a repeat booking.")
    tz = appointment.clinic.tz
    old_local, new_local = appointment.start.astimezone(tz), start.astimezone(tz)
    shift = new_local.date() - old_local.date()
    wall = new_local.time().replace(fold=0)
    following = _following(appointment)
    if not following or following[0].pk != appointment.pk:
        raise InvalidTransition("Only a booked or confirmed appointment can be moved.")
    # Every occurrence moves by the same amount, so taking them in the direction of the
    # move means none lands on one of its own series that has not moved yet.
    moving_later = start > appointment.start
    moved = []
    for current in reversed(following) if moving_later else following:
        day = current.start.astimezone(tz).date() + shift
        try:
            moved.append(
                appointment_reschedule(
                    appointment=current,
                    start=datetime.combine(day, wall, tzinfo=tz),
                    clinician=clinician,
                    override_working_hours=override_working_hours,
                    by=by,
                )
            )
        except DomainError as error:
            error.detail = f"{day:%a %-d %b}: {error.detail} Nothing was moved."
            raise
    log.info("appointment_series.moved", series_id=appointment.series_id, moved=len(moved))
    return sorted(moved, key=lambda a: a.start)


@transaction.atomic
def appointment_series_cancel(
    *, series: AppointmentSeries, from_start: datetime, reason: str = ""
) -> AppointmentSeries:
    """Cancel every booked or confirmed occurrence starting at or after `from_start`.
    Earlier ones, and any already seen, cancelled or missed, keep their status."""
    current = (
        AppointmentSeries.objects.select_for_update().select_related("clinic").get(pk=series.pk)
    )
    to_cancel = list(
        current.appointments.filter(
            start__gte=from_start,
            status__in=[Appointment.Status.BOOKED, Appointment.Status.CONFIRMED],
        ).order_by("start")
    )
    if not to_cancel:
        raise InvalidTransition(
            "No booked appointment of this series starts at or after that time."
        )
    for appointment in to_cancel:
        appointment_cancel(appointment=appointment, reason=reason.strip() or "Series cancelled")
    if current.cancelled_from is None or from_start < current.cancelled_from:
        current.cancelled_from = from_start
        current.save(update_fields=["cancelled_from"])
    log.info("appointment_series.cancelled", series_id=current.pk, cancelled=len(to_cancel))
    return current
