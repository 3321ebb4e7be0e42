"""Fixtures the appointment tests share: reception at the desk and a booking at 10:00."""

import pytest

from appointments.models import Appointment
from tests.conftest import MONDAY, sydney
from tests.factories import AppointmentFactory


@pytest.fixture
def at_ten(practice, patient) -> Appointment:
    """The practice clinician's 30-minute consultation with Ada at 10:00 on MONDAY."""
    return AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )
