from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from appointments.models import Appointment
from appointments.services import (
    appointment_arrive,
    appointment_book,
    appointment_cancel,
    appointment_complete,
    appointment_confirm,
    appointment_mark_no_show,
    appointment_reschedule,
)
from nexus.errors import (
    InvalidTransition,
    OutsideWorkingHours,
    PermissionDenied,
    SlotUnavailable,
    ValidationFailed,
)
from tests.conftest import MONDAY, sydney
from tests.factories import (
    AppointmentFactory,
    ClinicFactory,
    PatientFactory,
    TimeOffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def book(practice, patient, start, **kwargs):
    return appointment_book(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=start,
        **kwargs,
    )


def test_booking_defaults_the_end_from_the_appointment_type(practice, patient):
    appointment = book(practice, patient, sydney(MONDAY, 10))

    assert appointment.end - appointment.start == timedelta(minutes=30)
    assert appointment.status == Appointment.Status.BOOKED


def test_adjacent_half_open_slots_both_succeed(practice, patient):
    book(practice, patient, sydney(MONDAY, 10))
    book(practice, PatientFactory(), sydney(MONDAY, 10, 30))

    assert Appointment.objects.count() == 2


def test_an_overlapping_booking_is_refused_and_nothing_is_stored(practice, patient):
    book(practice, patient, sydney(MONDAY, 10))

    with pytest.raises(SlotUnavailable):
        book(practice, PatientFactory(), sydney(MONDAY, 10, 15))

    assert Appointment.objects.count() == 1


def test_cancel_then_rebook_the_same_slot(practice, patient):
    first = book(practice, patient, sydney(MONDAY, 10))
    appointment_cancel(appointment=first, reason="Patient unwell")

    second = book(practice, PatientFactory(), sydney(MONDAY, 10))

    assert second.status == Appointment.Status.BOOKED


def test_no_show_frees_the_slot(practice, patient, now_is):
    first = book(practice, patient, sydney(MONDAY, 10))
    now_is(sydney(MONDAY, 10, 20))  # a no-show is marked after the start
    appointment_mark_no_show(appointment=first)

    book(practice, PatientFactory(), sydney(MONDAY, 10))

    assert Appointment.objects.filter(status="booked").count() == 1


def test_outside_working_hours_needs_an_explicit_override(practice, patient):
    with pytest.raises(OutsideWorkingHours):
        book(practice, patient, sydney(MONDAY, 17))

    appointment = book(practice, patient, sydney(MONDAY, 17), override_working_hours=True)

    assert appointment.start == sydney(MONDAY, 17)


def test_the_override_never_overrides_a_clash(practice, patient):
    book(practice, patient, sydney(MONDAY, 18), override_working_hours=True)

    with pytest.raises(SlotUnavailable):
        book(practice, PatientFactory(), sydney(MONDAY, 18), override_working_hours=True)


def test_time_off_blocks_booking_without_override(practice, patient):
    TimeOffFactory(clinician=practice.clinician, start=sydney(MONDAY, 12), end=sydney(MONDAY, 14))

    with pytest.raises(OutsideWorkingHours):
        book(practice, patient, sydney(MONDAY, 13))


def test_a_clinician_cannot_be_booked_at_a_clinic_they_do_not_work_at(practice, patient):
    elsewhere = ClinicFactory(name="Elsewhere")

    with pytest.raises(ValidationFailed) as error:
        appointment_book(
            patient=patient,
            clinician=practice.clinician,
            clinic=elsewhere,
            appointment_type=practice.consult,
            start=sydney(MONDAY, 10),
        )

    assert error.value.field == "clinic"


def test_the_status_machine_allows_the_clinic_day(practice, patient, now_is):
    appointment = book(practice, patient, sydney(MONDAY, 10))
    now_is(sydney(MONDAY, 9, 50))  # arrival is marked on the day

    appointment = appointment_confirm(appointment=appointment)
    appointment = appointment_arrive(appointment=appointment)
    appointment = appointment_complete(appointment=appointment)

    assert appointment.status == Appointment.Status.COMPLETED


@pytest.mark.parametrize(
    ("path", "forbidden"),
    [
        ([], appointment_complete),
        ([appointment_confirm], appointment_confirm),
        ([appointment_arrive], appointment_mark_no_show),
        ([appointment_mark_no_show], appointment_arrive),
    ],
)
def test_invalid_transitions_are_refused_and_change_nothing(
    practice, patient, now_is, path, forbidden
):
    appointment = book(practice, patient, sydney(MONDAY, 10))
    now_is(sydney(MONDAY, 10, 20))  # on the day, after the start: only the status machine refuses
    for step in path:
        appointment = step(appointment=appointment)
    before = Appointment.objects.get(pk=appointment.pk).status

    with pytest.raises(InvalidTransition):
        forbidden(appointment=appointment)

    assert Appointment.objects.get(pk=appointment.pk).status == before


def test_cancelling_needs_a_reason(practice, patient):
    appointment = book(practice, patient, sydney(MONDAY, 10))

    with pytest.raises(ValidationFailed):
        appointment_cancel(appointment=appointment, reason="  ")

    assert Appointment.objects.get(pk=appointment.pk).status == "booked"


def test_reschedule_keeps_the_length_and_checks_clashes(practice, patient):
    moving = book(practice, patient, sydney(MONDAY, 10))
    book(practice, PatientFactory(), sydney(MONDAY, 11))

    moved = appointment_reschedule(appointment=moving, start=sydney(MONDAY, 10, 30))
    with pytest.raises(SlotUnavailable):
        appointment_reschedule(appointment=moved, start=sydney(MONDAY, 10, 45))

    moved.refresh_from_db()
    assert moved.start == sydney(MONDAY, 10, 30)
    assert moved.end == sydney(MONDAY, 11)


def test_an_appointment_can_move_onto_its_own_time(practice, patient):
    appointment = book(practice, patient, sydney(MONDAY, 10))

    moved = appointment_reschedule(appointment=appointment, start=sydney(MONDAY, 10, 15))

    assert moved.start == sydney(MONDAY, 10, 15)


def test_the_database_refuses_an_appointment_longer_than_a_day(practice, patient):
    start = sydney(MONDAY, 9)
    fine = AppointmentFactory.build(
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        patient=patient,
        start=start,
        end=start + timedelta(hours=24),
    )
    fine.save()

    too_long = AppointmentFactory.build(
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        patient=patient,
        start=start + timedelta(days=7),
        end=start + timedelta(days=8, seconds=1),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        too_long.save()
    assert Appointment.objects.count() == 1


def test_overlap_queries_find_a_long_appointment_that_began_before_the_window(practice, patient):
    start = sydney(MONDAY, 9)
    long = AppointmentFactory(
        clinician=practice.clinician,
        clinic=practice.clinic,
        patient=patient,
        start=start - timedelta(hours=23),
        end=start + timedelta(minutes=30),
    )

    assert list(Appointment.objects.overlapping(start, start + timedelta(hours=1))) == [long]
    assert not Appointment.objects.overlapping(
        start + timedelta(minutes=30), start + timedelta(hours=1)
    )
    with pytest.raises(SlotUnavailable):
        appointment_book(
            patient=patient,
            clinician=practice.clinician,
            clinic=practice.clinic,
            appointment_type=practice.consult,
            start=start,
        )


def test_only_staff_with_the_permission_may_book_or_move_outside_working_hours(
    practice, patient, admin_user
):
    # A user without the permission (every role holds it today, a custom group may not)
    # is refused by the service itself, whoever calls it: view, API, task or import.
    unpermitted = UserFactory()
    with pytest.raises(PermissionDenied):
        book(
            practice,
            patient,
            sydney(MONDAY, 18),
            override_working_hours=True,
            created_by=unpermitted,
        )
    assert not Appointment.objects.exists()
    appointment = book(
        practice, patient, sydney(MONDAY, 18), override_working_hours=True, created_by=admin_user
    )
    with pytest.raises(PermissionDenied):
        appointment_reschedule(
            appointment=appointment,
            start=sydney(MONDAY, 19),
            override_working_hours=True,
            by=unpermitted,
        )

    moved = appointment_reschedule(
        appointment=appointment,
        start=sydney(MONDAY, 19),
        override_working_hours=True,
        by=admin_user,
    )

    assert moved.start == sydney(MONDAY, 19)
