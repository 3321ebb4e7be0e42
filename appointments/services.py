"""Booking, rescheduling and status changes: every write to an appointment goes through here."""

from datetime import datetime

import structlog
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from appointments.availability import availability_changed
from appointments.holds import check_not_held, clinician_schedule_lock
from appointments.models import (
    MAX_APPOINTMENT_LENGTH,
    Appointment,
    AppointmentSeries,
    AppointmentType,
)
from clinicians.models import Clinic, Clinician, TimeOff, WorkingHours
from integrations.models import Message
from integrations.services import appointment_notify
from nexus.errors import (
    InvalidTransition,
    OutsideWorkingHours,
    PermissionDenied,
    SlotUnavailable,
    ValidationFailed,
)
from patients.models import Patient

log = structlog.get_logger(__name__)

Status = Appointment.Status
OVERLAP_CONSTRAINT = "appointment_no_overlap"
DEADLOCK_DETECTED = "40P01"  # PostgreSQL SQLSTATE deadlock_detected


def _clashes(
    *, clinician: Clinician, start: datetime, end: datetime, exclude_pk: int | None
) -> bool:
    # Half-open intervals: [start, end) overlaps [s, e) iff s < end and e > start.
    qs = Appointment.objects.overlapping(start, end).filter(
        clinician=clinician, status__in=Appointment.ACTIVE_STATUSES
    )
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def within_working_hours(
    *, clinician: Clinician, clinic: Clinic, start: datetime, end: datetime
) -> bool:
    """True when [start, end) lies inside one working-hours block and clear of time off."""
    # Working hours are wall-clock times in the clinic's zone; compare in that zone so a
    # 09:00 start means 09:00 on both sides of a daylight-saving change.
    local_start, local_end = start.astimezone(clinic.tz), end.astimezone(clinic.tz)
    if local_start.date() != local_end.date():
        return False
    inside_hours = WorkingHours.objects.filter(
        clinician=clinician,
        clinic=clinic,
        weekday=local_start.weekday(),
        start_time__lte=local_start.time(),
        end_time__gte=local_end.time(),
    ).exists()
    if not inside_hours:
        return False
    on_leave = TimeOff.objects.filter(
        Q(clinic__isnull=True) | Q(clinic=clinic), clinician=clinician, start__lt=end, end__gt=start
    )
    return not on_leave.exists()


def check_override(*, by: User | None, override_working_hours: bool) -> None:
    """Only staff holding the permission may place an appointment outside working hours.
    `by` is None when the practice's own code acts with no person behind it (an import,
    a task); the caller then decides, as it does for everything else it writes."""
    denied = by is not None and not by.has_perm("appointments.override_working_hours")
    if override_working_hours and denied:
        raise PermissionDenied(
            "You may not book outside working hours.", field="override_working_hours"
        )


def check_clinician_at(*, clinician: Clinician, clinic: Clinic) -> None:
    if not clinician.is_active:
        raise ValidationFailed("This clinician is no longer active.", field="clinician")
    if not clinician.clinics.filter(pk=clinic.pk).exists():
        raise ValidationFailed(f"{clinician} does not work at {clinic}.", field="clinic")


def check_bookable(*, patient: Patient, appointment_type: AppointmentType) -> None:
    """The patient and the type may be booked at all, whatever the time."""
    if patient.archived:
        raise ValidationFailed("This patient is archived; restore them first.", field="patient")
    if not appointment_type.is_active:
        raise ValidationFailed(
            "This appointment type is no longer offered.", field="appointment_type"
        )


def check_slot(
    *,
    clinician: Clinician,
    clinic: Clinic,
    start: datetime,
    end: datetime,
    override_working_hours: bool,
    exclude_pk: int | None = None,
) -> None:
    if end <= start:
        raise ValidationFailed("The appointment must end after it starts.", field="end")
    if end - start > MAX_APPOINTMENT_LENGTH:
        raise ValidationFailed("An appointment cannot last more than 24 hours.", field="end")
    check_clinician_at(clinician=clinician, clinic=clinic)
    # Under the clinician's lock, so a hold or booking made meanwhile is seen (holds.py).
    clinician_schedule_lock(clinician_id=clinician.pk)
    if _clashes(clinician=clinician, start=start, end=end, exclude_pk=exclude_pk):
        raise SlotUnavailable()
    check_not_held(clinician_id=clinician.pk, start=start, end=end)
    if not override_working_hours and not within_working_hours(
        clinician=clinician, clinic=clinic, start=start, end=end
    ):
        raise OutsideWorkingHours(field="start")


def _save(appointment: Appointment) -> None:
    """Save, turning PostgreSQL's exclusion-constraint violation into SlotUnavailable.

    The Python check above answers the common case with a clear message; the database
    constraint is what holds when two requests pass that check at the same moment.
    PostgreSQL may also end such a race with a deadlock between the overlapping inserts
    (each waits on the other's row while checking the exclusion constraint): the insert
    picked as the victim lost the same race, so it gets the same answer.
    """
    try:
        with transaction.atomic():
            appointment.save()
    except IntegrityError as exc:
        diag = getattr(exc.__cause__, "diag", None)
        if getattr(diag, "constraint_name", None) == OVERLAP_CONSTRAINT:
            raise SlotUnavailable() from exc
        raise
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == DEADLOCK_DETECTED:
            raise SlotUnavailable() from exc
        raise


@transaction.atomic
def appointment_book(
    *,
    patient: Patient,
    clinician: Clinician,
    clinic: Clinic,
    appointment_type: AppointmentType,
    start: datetime,
    end: datetime | None = None,
    notes: str = "",
    source: str = Appointment.Source.STAFF,
    created_by: User | None = None,
    override_working_hours: bool = False,
    series: AppointmentSeries | None = None,
    notify: bool = True,
) -> Appointment:
    """`created_by` is the person booking: it decides whether they may override.
    `notify=False` books without the confirmation text (a series sends one for all)."""
    check_override(by=created_by, override_working_hours=override_working_hours)
    check_bookable(patient=patient, appointment_type=appointment_type)
    end = end or start + appointment_type.duration
    check_slot(
        clinician=clinician,
        clinic=clinic,
        start=start,
        end=end,
        override_working_hours=override_working_hours,
    )
    appointment = Appointment(
        patient=patient,
        clinician=clinician,
        clinic=clinic,
        appointment_type=appointment_type,
        start=start,
        end=end,
        notes=notes,
        source=source,
        series=series,
        created_by=created_by,
    )
    _save(appointment)
    # In this transaction: a booking rolled back leaves no confirmation behind.
    if notify:
        appointment_notify(appointment=appointment, kind=Message.Kind.CONFIRMATION)
    log.info(
        "appointment.booked",
        appointment_id=appointment.pk,
        clinician_id=clinician.pk,
        override=override_working_hours,
    )
    return appointment


def _lock(appointment: Appointment) -> Appointment:
    # Re-read under a row lock so two receptionists acting at once cannot lose an update.
    return (
        Appointment.objects.select_for_update()
        .select_related("clinic", "clinician")
        .get(pk=appointment.pk)
    )


@transaction.atomic
def appointment_reschedule(
    *,
    appointment: Appointment,
    start: datetime,
    end: datetime | None = None,
    clinician: Clinician | None = None,
    clinic: Clinic | None = None,
    override_working_hours: bool = False,
    by: User | None = None,
) -> Appointment:
    """`by` is the person moving it: it decides whether they may override."""
    check_override(by=by, override_working_hours=override_working_hours)
    current = _lock(appointment)
    if current.status not in (Status.BOOKED, Status.CONFIRMED):
        raise InvalidTransition(
            f"A {current.get_status_display().lower()} appointment cannot be moved."
        )
    clinician = clinician or current.clinician
    clinic = clinic or current.clinic
    end = end or start + (current.end - current.start)
    check_slot(
        clinician=clinician,
        clinic=clinic,
        start=start,
        end=end,
        override_working_hours=override_working_hours,
        exclude_pk=current.pk,
    )
    freed = (current.clinician_id, current.clinic_id, current.start, current.end)
    current.clinician, current.clinic, current.start, current.end = clinician, clinic, start, end
    _save(current)
    if freed != (current.clinician_id, current.clinic_id, current.start, current.end):
        _time_freed(
            current, start=freed[2], end=freed[3], clinician_id=freed[0], clinic_id=freed[1]
        )
    appointment_notify(appointment=current, kind=Message.Kind.MOVED)
    log.info("appointment.rescheduled", appointment_id=current.pk)
    return current


def _time_freed(
    appointment: Appointment,
    *,
    start: datetime,
    end: datetime,
    clinician_id: int | None = None,
    clinic_id: int | None = None,
) -> None:
    """A time came free: once this transaction commits, the waitlist offers it by SMS."""
    from waitlist.services import waitlist_time_freed_later  # the waitlist builds on this

    # The save's own signal names the appointment's clinician now; a move to another
    # clinician frees the first one's time too.
    availability_changed(clinician_id=clinician_id or appointment.clinician_id)
    waitlist_time_freed_later(
        clinician_id=clinician_id or appointment.clinician_id,
        clinic_id=clinic_id or appointment.clinic_id,
        start=start,
        end=end,
    )


def _now() -> datetime:
    # One seam for "now", so tests of the clinic-day rules can stand on a given day.
    return timezone.now()


def _same_clinic_day(appointment: Appointment, now: datetime) -> bool:
    tz = appointment.clinic.tz
    return appointment.start.astimezone(tz).date() == now.astimezone(tz).date()


def _timing_refusal(appointment: Appointment, to: str, now: datetime) -> str | None:
    """Why `to` cannot be chosen yet (or any more), or None when it can."""
    if to == Status.ARRIVED and not _same_clinic_day(appointment, now):
        return "A patient can be marked as arrived only on the day of the appointment."
    if to == Status.NO_SHOW and now < appointment.start:
        return "A patient can be marked as a no-show only after the appointment starts."
    return None


def appointment_next_statuses(
    *, appointment: Appointment, now: datetime | None = None
) -> list[str]:
    """The statuses the appointment may move to now, in the clinic day's fixed order."""
    now = now or _now()
    return [
        status
        for status in Appointment.STATUS_ORDER
        if appointment.can_move_to(status) and _timing_refusal(appointment, status, now) is None
    ]


def appointment_undo_target(*, appointment: Appointment, now: datetime | None = None) -> str | None:
    """The status an undo would return to, or None when there is nothing to undo: only an
    arrival, a no-show or a completion, and only on the appointment's day (clinic's zone)."""
    if appointment.status not in Appointment.UNDOABLE:
        return None
    if not _same_clinic_day(appointment, now or _now()):
        return None
    if appointment.status == Status.COMPLETED:
        return Status.ARRIVED
    return appointment.status_before_visit or Status.BOOKED


@transaction.atomic
def appointment_transition(
    *,
    appointment: Appointment,
    to: str,
    reason: str = "",
    now: datetime | None = None,
    notify: bool = True,
) -> Appointment:
    current = _lock(appointment)
    if not current.can_move_to(to):
        raise InvalidTransition(
            f"A {current.get_status_display().lower()} appointment cannot become "
            f"{Status(to).label.lower()}."
        )
    if refusal := _timing_refusal(current, to, now or _now()):
        raise InvalidTransition(refusal)
    if to == Status.CANCELLED:
        if not reason.strip():
            raise ValidationFailed("Say why the appointment is cancelled.", field="reason")
        current.cancellation_reason = reason.strip()
    if to in (Status.ARRIVED, Status.NO_SHOW):
        current.status_before_visit = current.status
    current.status = to
    current.save(
        update_fields=["status", "cancellation_reason", "status_before_visit", "updated_at"]
    )
    if to == Status.CANCELLED and notify:
        appointment_notify(appointment=current, kind=Message.Kind.CANCELLED)
    if to in (Status.CANCELLED, Status.NO_SHOW):
        _time_freed(current, start=current.start, end=current.end)
    if to == Status.COMPLETED:
        from billing.services import invoice_auto_raise  # billing builds on appointments

        invoice_auto_raise(appointment=current)
    log.info("appointment.status_changed", appointment_id=current.pk, status=to)
    return current


@transaction.atomic
def appointment_undo_status(
    *, appointment: Appointment, now: datetime | None = None
) -> Appointment:
    """Take back an arrival, a no-show or a completion marked by mistake, on the day."""
    current = _lock(appointment)
    back_to = appointment_undo_target(appointment=current, now=now)
    if back_to is None:
        raise InvalidTransition(
            f"A {current.get_status_display().lower()} appointment has nothing to undo today."
        )
    if current.status == Status.NO_SHOW and _clashes(
        clinician=current.clinician, start=current.start, end=current.end, exclude_pk=current.pk
    ):
        # A no-show frees the time; someone may have been booked into it since.
        raise SlotUnavailable(
            "Someone else has been booked into this time since; the no-show stays."
        )
    undone = current.status
    current.status = back_to
    if back_to in (Status.BOOKED, Status.CONFIRMED):
        current.status_before_visit = ""
    _save(current)
    log.info("appointment.status_undone", appointment_id=current.pk, undone=undone, status=back_to)
    return current


def appointment_confirm(*, appointment: Appointment) -> Appointment:
    return appointment_transition(appointment=appointment, to=Status.CONFIRMED)


def appointment_arrive(*, appointment: Appointment) -> Appointment:
    return appointment_transition(appointment=appointment, to=Status.ARRIVED)


def appointment_complete(*, appointment: Appointment) -> Appointment:
    return appointment_transition(appointment=appointment, to=Status.COMPLETED)


def appointment_cancel(
    *, appointment: Appointment, reason: str, notify: bool = True
) -> Appointment:
    """`notify=False` when the patient asked for it by SMS: they know already."""
    return appointment_transition(
        appointment=appointment, to=Status.CANCELLED, reason=reason, notify=notify
    )


def appointment_mark_no_show(*, appointment: Appointment) -> Appointment:
    return appointment_transition(appointment=appointment, to=Status.NO_SHOW)


@transaction.atomic
def appointment_update_notes(*, appointment: Appointment, notes: str) -> Appointment:
    current = _lock(appointment)
    current.notes = notes
    current.save(update_fields=["notes", "updated_at"])
    return current
