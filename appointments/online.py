"""Bookings made by the public at /book/ and reception's review of them.

Every online booking makes a new patient record from what was typed and a pending
`OnlineBooking`; it is never attached to an existing record, so the page gives the same
answer, by the same path, whether or not the person is already a patient (issue 12 item 2).
Reception then accepts the new record or merges the booking into the patient it matches.
"""

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from appointments import holds
from appointments.holds import SlotHeld, clinician_schedule_lock
from appointments.links import appointment_link_token
from appointments.models import Appointment, AppointmentType, OnlineBooking, SlotHold
from appointments.services import (
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    check_slot,
)
from clinicians.models import Clinic, Clinician
from integrations.models import Message
from integrations.services import appointment_notify
from nexus.errors import Conflict, InvalidTransition, ValidationFailed
from patients.models import Patient
from patients.services import patient_register

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class OnlineDetails:
    """What a member of the public typed on the booking form."""

    given_name: str
    family_name: str
    date_of_birth: date
    phone: str
    email: str = ""
    message: str = ""
    sms_consent: bool = False
    email_consent: bool = False


class OnlineBookingFull(Conflict):
    code = "online_booking_full"
    default_detail = (
        "Online booking is full for this day. Please call the clinic to book, or choose "
        "another day."
    )


def _check_unverified_caps(*, clinician: Clinician, clinic: Clinic, start: datetime) -> None:
    """Unverified bookings (no SMS code) are capped per clinician per day and per day in
    all, so one visitor cannot fill a clinician's week with made-up patients (item 3)."""
    unverified = OnlineBooking.objects.filter(
        mobile_verified=False,
        status=OnlineBooking.Status.PENDING,
        appointment__status__in=Appointment.ACTIVE_STATUSES,
    )
    local_day = start.astimezone(clinic.tz).date()
    day_start = datetime.combine(local_day, datetime.min.time(), tzinfo=clinic.tz)
    same_day = unverified.filter(
        appointment__clinician=clinician,
        appointment__start__gte=day_start,
        appointment__start__lt=day_start + timedelta(days=1),
    )
    if same_day.count() >= settings.NEXUS_BOOKING_UNVERIFIED_PER_CLINICIAN_DAY:
        raise OnlineBookingFull()
    made_today = unverified.filter(created_at__gte=timezone.now() - timedelta(days=1))
    if made_today.count() >= settings.NEXUS_BOOKING_UNVERIFIED_PER_DAY:
        raise OnlineBookingFull()


@transaction.atomic
def appointment_book_online(
    *,
    clinician: Clinician,
    clinic: Clinic,
    appointment_type: AppointmentType,
    start: datetime,
    details: OnlineDetails,
    mobile_verified: bool = False,
    hold_key: str = "",
    site_root: str = "",
) -> Appointment:
    """Book a time for someone who found the clinic online, under a new patient record
    made from their details, waiting for reception's review. Working hours and overlaps
    are checked as for staff bookings, under the same database constraint, so two people
    racing for one time cannot both have it. The visitor's own hold (`hold_key`) gives
    way to the booking; anyone else's live hold refuses it. The confirmation carries the
    signed link to change or cancel it, on the site at `site_root` (the caller knows the
    address the visitor used)."""
    if not appointment_type.bookable_online or not clinician.listed_publicly:
        raise ValidationFailed("This time cannot be booked online.")
    clinician_schedule_lock(clinician_id=clinician.pk)
    if hold_key:
        SlotHold.objects.filter(key=hold_key).delete()
    if not mobile_verified:
        _check_unverified_caps(clinician=clinician, clinic=clinic, start=start)
    by_email = details.email_consent and bool(details.email)
    try:
        patient = patient_register(
            created_by=None,
            given_name=details.given_name.strip(),
            family_name=details.family_name.strip(),
            date_of_birth=details.date_of_birth,
            phone=details.phone,
            email=details.email,
            sms_consent=details.sms_consent,
            email_consent=by_email,
            # The confirmation and reminders go where the visitor asked (integrations).
            reminder_channel=("both" if details.sms_consent else "email") if by_email else "sms",
            home_clinic=clinic,
        )
    except ValidationFailed as exc:
        # One answer whatever the field, as for every other outcome of the public page.
        raise ValidationFailed("Some of these details could not be saved.") from exc
    appointment = appointment_book(
        patient=patient,
        clinician=clinician,
        clinic=clinic,
        appointment_type=appointment_type,
        start=start,
        source=Appointment.Source.ONLINE,
        notify=False,
    )
    OnlineBooking.objects.create(
        appointment=appointment,
        message=details.message.strip(),
        mobile_verified=mobile_verified,
    )
    # In this transaction, as appointment_book would, but with the link to manage it.
    manage_url = ""
    if site_root:
        token = appointment_link_token(appointment=appointment)
        manage_url = site_root.rstrip("/") + reverse("booking:manage", args=[token])
    appointment_notify(
        appointment=appointment, kind=Message.Kind.CONFIRMATION, manage_url=manage_url
    )
    log.info("appointment.booked_online", appointment_id=appointment.pk, verified=mobile_verified)
    return appointment


# --- Holding a time while the visitor types ------------------------------------------------


@transaction.atomic
def slot_hold(
    *,
    clinician: Clinician,
    clinic: Clinic,
    appointment_type: AppointmentType,
    start: datetime,
    replacing: str = "",
) -> SlotHold:
    """Hold this time for NEXUS_BOOKING_HOLD_MINUTES for one visitor, or refuse: taken
    (SlotUnavailable), held by someone else (SlotHeld, saying for how long), or not
    bookable. `replacing` is the key of the visitor's current hold: a visitor holds one
    time at most, and choosing the same time again keeps the hold without extending it."""
    if not appointment_type.bookable_online or not clinician.listed_publicly:
        raise ValidationFailed("This time cannot be booked online.")
    now = holds._now()
    end = start + appointment_type.duration
    clinician_schedule_lock(clinician_id=clinician.pk)
    if replacing:
        mine = SlotHold.objects.filter(key=replacing, expires_at__gt=now).first()
        same = (clinician.pk, clinic.pk, appointment_type.pk, start)
        if (
            mine
            and (mine.clinician_id, mine.clinic_id, mine.appointment_type_id, mine.start) == same
        ):
            return mine
        SlotHold.objects.filter(key=replacing).delete()
    check_slot(
        clinician=clinician, clinic=clinic, start=start, end=end, override_working_hours=False
    )
    hold = SlotHold(
        key=secrets.token_urlsafe(32),
        clinician=clinician,
        clinic=clinic,
        appointment_type=appointment_type,
        start=start,
        end=end,
        expires_at=now + timedelta(minutes=settings.NEXUS_BOOKING_HOLD_MINUTES),
    )
    try:
        with transaction.atomic():
            hold.save()
    except IntegrityError as exc:
        # The lock makes this unreachable from Nexus's own code; the constraint still holds.
        diag = getattr(exc.__cause__, "diag", None)
        if getattr(diag, "constraint_name", None) == "slot_hold_no_overlap":
            raise SlotHeld() from exc
        raise
    log.info("slot_hold.created", hold_id=hold.pk, clinician_id=clinician.pk)
    return hold


def slot_hold_release(*, key: str) -> None:
    """The visitor chose another time or gave up: free theirs at once."""
    if key:
        SlotHold.objects.filter(key=key).delete()


def slot_hold_mine(*, key: str) -> SlotHold | None:
    """The visitor's live hold, if they still have one."""
    if not key:
        return None
    return holds.live_holds().filter(key=key).first()


# --- Changing a booking by its link ---------------------------------------------------------


def online_change_refusal(*, appointment: Appointment, now: datetime | None = None) -> str | None:
    """Why the patient may not cancel or move this appointment by the link (too close to
    the time: the practice's notice rule, NEXUS_BOOKING_CHANGE_NOTICE_HOURS), or None."""
    if appointment.status not in (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED):
        return "This appointment can no longer be changed online."
    hours = settings.NEXUS_BOOKING_CHANGE_NOTICE_HOURS
    if appointment.start - (now or timezone.now()) < timedelta(hours=hours):
        phone = appointment.clinic.phone
        call = f"call {phone.as_national}" if phone else "call the clinic"
        return (
            f"Changes online need at least {hours} hours' notice; please {call} to change "
            "or cancel this appointment."
        )
    return None


@transaction.atomic
def appointment_cancel_online(
    *, appointment: Appointment, now: datetime | None = None
) -> Appointment:
    if refusal := online_change_refusal(appointment=appointment, now=now):
        raise InvalidTransition(refusal)
    return appointment_cancel(appointment=appointment, reason="Cancelled online by the patient")


@transaction.atomic
def appointment_reschedule_online(
    *, appointment: Appointment, start: datetime, now: datetime | None = None
) -> Appointment:
    """Move the appointment to another free time of the same clinician, clinic and type,
    within the notice rule; the booking rules (hours, overlaps, holds) decide the rest."""
    now = now or timezone.now()
    if refusal := online_change_refusal(appointment=appointment, now=now):
        raise InvalidTransition(refusal)
    if start <= now:
        raise ValidationFailed("Choose a time in the future.", field="start")
    moved = appointment_reschedule(appointment=appointment, start=start)
    log.info("appointment.rescheduled_online", appointment_id=moved.pk)
    return moved


def online_bookings_pending() -> QuerySet[OnlineBooking]:
    return OnlineBooking.objects.filter(status=OnlineBooking.Status.PENDING).select_related(
        "appointment__patient",
        "appointment__clinician",
        "appointment__clinic",
        "appointment__appointment_type",
    )


def online_booking_matches(*, bookings: list[OnlineBooking]) -> dict[int, list[Patient]]:
    """Existing patients each booking may belong to: the same date of birth and the same
    mobile or family name. One query for the whole list."""
    made = {b.appointment.patient_id for b in bookings}
    births = {b.appointment.patient.date_of_birth for b in bookings}
    candidates = list(
        Patient.objects.filter(archived=False, date_of_birth__in=births)
        .exclude(pk__in=made)
        .order_by("family_name", "given_name", "pk")[:500]
    )
    matches: dict[int, list[Patient]] = {}
    for booking in bookings:
        typed = booking.appointment.patient
        matches[booking.pk] = [
            p
            for p in candidates
            if p.date_of_birth == typed.date_of_birth
            and (
                (typed.phone and p.phone == typed.phone)
                or p.family_name.casefold() == typed.family_name.casefold()
            )
        ]
    return matches


def _pending(booking: OnlineBooking) -> OnlineBooking:
    current = (
        OnlineBooking.objects.select_for_update()
        .select_related("appointment__patient")
        .get(pk=booking.pk)
    )
    if current.status != OnlineBooking.Status.PENDING:
        raise InvalidTransition("This online booking has already been reviewed.")
    return current


def _reviewed(booking: OnlineBooking, *, status: str, reviewed_by: User) -> OnlineBooking:
    booking.status = status
    booking.reviewed_by = reviewed_by
    booking.reviewed_at = timezone.now()
    booking.save(update_fields=["status", "reviewed_by", "reviewed_at", "merged_from"])
    log.info("online_booking.reviewed", online_booking_id=booking.pk, status=status)
    return booking


def _take_message(booking: OnlineBooking) -> None:
    """The patient's message joins the appointment's front-desk notes once staff accept it."""
    appointment = booking.appointment
    if booking.message:
        appointment.notes = "\n".join(filter(None, [appointment.notes, booking.message]))
        appointment.save(update_fields=["notes", "updated_at"])


@transaction.atomic
def online_booking_accept(
    *, booking: OnlineBooking, reviewed_by: User, keep_message: bool = True
) -> OnlineBooking:
    """The person is new to the practice: keep the record made at booking time."""
    current = _pending(booking)
    if keep_message:
        _take_message(current)
    return _reviewed(current, status=OnlineBooking.Status.ACCEPTED, reviewed_by=reviewed_by)


@transaction.atomic
def online_booking_merge(
    *, booking: OnlineBooking, patient: Patient, reviewed_by: User, keep_message: bool = True
) -> OnlineBooking:
    """The person is `patient`: move the booking to their record and archive the record
    made at booking time (kept, not deleted, as the audit trail refers to it)."""
    current = _pending(booking)
    appointment = current.appointment
    made = appointment.patient
    if patient.pk == made.pk or patient.archived:
        raise ValidationFailed("Choose an existing, active patient.", field="patient")
    in_use = (
        made.appointments.exclude(pk=appointment.pk).exists()
        or made.notes.exists()
        or made.documents.exists()
    )
    if in_use:
        raise Conflict(
            "The record made for this booking already has other appointments, notes or "
            "documents; move those first."
        )
    appointment.patient = patient
    appointment.save(update_fields=["patient", "updated_at"])
    if keep_message:
        _take_message(current)
    made.archived = True
    made.save(update_fields=["archived", "updated_at"])
    current.merged_from = made
    return _reviewed(current, status=OnlineBooking.Status.MERGED, reviewed_by=reviewed_by)


@transaction.atomic
def online_booking_decline(*, booking: OnlineBooking, reviewed_by: User) -> OnlineBooking:
    """Not a real booking (a prank, a duplicate): free the time; the message is dropped."""
    current = _pending(booking)
    appointment = current.appointment
    if appointment.can_move_to(Appointment.Status.CANCELLED):
        appointment_cancel(appointment=appointment, reason="Online booking declined by the clinic")
    return _reviewed(current, status=OnlineBooking.Status.DECLINED, reviewed_by=reviewed_by)
