"""Bookings made by the public at /book/ and reception's review of them.

Every online booking makes a new patient record from what was typed and a pending
`OnlineBooking`; it is never attached to an existing record, so the page gives the same
answer, by the same path, whether or not the person is already a patient (issue 12 item 2).
Reception then accepts the new record or merges the booking into the patient it matches.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from appointments.models import Appointment, AppointmentType, OnlineBooking
from appointments.services import appointment_book, appointment_cancel
from clinicians.models import Clinic, Clinician
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
) -> Appointment:
    """Book a time for someone who found the clinic online, under a new patient record
    made from their details, waiting for reception's review. Working hours and overlaps
    are checked as for staff bookings, under the same database constraint, so two people
    racing for one time cannot both have it."""
    if not appointment_type.bookable_online or not clinician.listed_publicly:
        raise ValidationFailed("This time cannot be booked online.")
    if not mobile_verified:
        _check_unverified_caps(clinician=clinician, clinic=clinic, start=start)
    try:
        patient = patient_register(
            created_by=None,
            given_name=details.given_name.strip(),
            family_name=details.family_name.strip(),
            date_of_birth=details.date_of_birth,
            phone=details.phone,
            email=details.email,
            sms_consent=details.sms_consent,
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
    )
    OnlineBooking.objects.create(
        appointment=appointment,
        message=details.message.strip(),
        mobile_verified=mobile_verified,
    )
    log.info("appointment.booked_online", appointment_id=appointment.pk, verified=mobile_verified)
    return appointment


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
