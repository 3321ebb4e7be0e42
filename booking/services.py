"""Online booking by patients: the same booking rule as staff, with source=online."""

from datetime import datetime
from typing import Any

from django.db import transaction

from appointments.models import Appointment, AppointmentType
from appointments.services import appointment_book
from clinicians.models import Clinic, Clinician
from patients.models import Patient
from patients.services import patient_register


@transaction.atomic
def online_booking_make(
    *,
    clinician: Clinician,
    clinic: Clinic,
    appointment_type: AppointmentType,
    start: datetime,
    details: dict[str, Any],
) -> Appointment:
    """Book for a patient who found the clinic online. A returning patient is matched on
    the exact name, date of birth and mobile they gave; anyone else becomes a new record.
    Working hours and overlaps are checked as for staff bookings, under the same database
    constraint, so two people racing for one time cannot both have it."""
    patient = (
        Patient.objects.filter(
            given_name__iexact=details["given_name"].strip(),
            family_name__iexact=details["family_name"].strip(),
            date_of_birth=details["date_of_birth"],
            phone=details["phone"],
            archived=False,
        )
        .order_by("pk")
        .first()
    )
    if patient is None:
        patient = patient_register(
            created_by=None,
            given_name=details["given_name"].strip(),
            family_name=details["family_name"].strip(),
            date_of_birth=details["date_of_birth"],
            phone=details["phone"],
            email=details.get("email", ""),
            sms_consent=details.get("sms_consent", False),
            home_clinic=clinic,
        )
    return appointment_book(
        patient=patient,
        clinician=clinician,
        clinic=clinic,
        appointment_type=appointment_type,
        start=start,
        notes=details.get("notes", ""),
        source=Appointment.Source.ONLINE,
    )
