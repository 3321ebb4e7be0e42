from decimal import Decimal

import pytest

from appointments.models import Appointment, AppointmentType
from tests.conftest import MONDAY, sydney
from tests.factories import AppointmentFactory, AppointmentTypeFactory


def podiatry_consult() -> AppointmentType:
    """The standard consultation: $95.50 with Xero item code CONSULT."""
    return AppointmentTypeFactory(
        name="Podiatry consult", price=Decimal("95.50"), xero_item_code="CONSULT"
    )


def consult_visit(practice, patient, *, status: str) -> Appointment:
    """The patient's standard consultation, Monday 9:00 in Sydney, in the given status."""
    return AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=podiatry_consult(),
        start=sydney(MONDAY, 9),
        status=status,
    )


@pytest.fixture
def completed(practice, patient) -> Appointment:
    """A completed standard consultation at $95.50 with Xero item code CONSULT."""
    return consult_visit(practice, patient, status=Appointment.Status.COMPLETED)


from tests.integrations.xero.conftest import (  # noqa: E402, F401 (fixtures)
    _xero_server,
    fake_xero,
    xero_connected,
)
