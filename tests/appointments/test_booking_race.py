import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from appointments.models import Appointment
from tests.conftest import MONDAY, requires_postgres, sydney
from tests.factories import AppointmentFactory, PatientFactory

ATTEMPTS = 50


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_bookings_of_one_slot_give_exactly_one_success(practice, reception_user):
    # Given 50 receptionists' requests, each on its own thread and database connection
    patients = [PatientFactory() for _ in range(ATTEMPTS)]
    barrier = threading.Barrier(ATTEMPTS)

    def attempt(patient_id: int) -> int:
        client = APIClient()
        client.force_authenticate(reception_user)
        try:
            barrier.wait()
            response = client.post(
                "/api/v1/appointments/",
                {
                    "patient": patient_id,
                    "clinician": practice.clinician.pk,
                    "clinic": practice.clinic.pk,
                    "appointment_type": practice.consult.pk,
                    "start": sydney(MONDAY, 10).isoformat(),
                },
                format="json",
            )
            if response.status_code == 409:
                assert response.json()["code"] == "slot_unavailable"
            return response.status_code
        finally:
            connection.close()

    # When they all book the same slot at once
    with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
        outcomes = list(pool.map(attempt, [p.pk for p in patients]))

    # Then exactly one wins and every other gets a clean 409
    assert outcomes.count(201) == 1
    assert outcomes.count(409) == ATTEMPTS - 1
    assert Appointment.objects.filter(status="booked").count() == 1


@requires_postgres
@pytest.mark.django_db
def test_the_database_refuses_an_overlap_even_without_the_services(practice, patient):
    AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )

    with pytest.raises(IntegrityError, match="appointment_no_overlap"), transaction.atomic():
        AppointmentFactory(
            patient=patient,
            clinician=practice.clinician,
            clinic=practice.clinic,
            appointment_type=practice.consult,
            start=sydney(MONDAY, 10, 15),
        )

    # A cancelled row does not hold the slot, so the same insert then succeeds.
    Appointment.objects.update(status="cancelled")
    AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10, 15),
    )
    assert Appointment.objects.filter(status="booked").count() == 1
