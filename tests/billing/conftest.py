from decimal import Decimal

import pytest

from appointments.models import Appointment
from tests.conftest import MONDAY, sydney
from tests.factories import AppointmentFactory, AppointmentTypeFactory


@pytest.fixture
def completed(practice, patient) -> Appointment:
    """A completed standard consultation at $95.50 with Xero item code CONSULT."""
    kind = AppointmentTypeFactory(
        name="Podiatry consult", price=Decimal("95.50"), xero_item_code="CONSULT"
    )
    return AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=kind,
        start=sydney(MONDAY, 9),
        status=Appointment.Status.COMPLETED,
    )


from tests.integrations.xero.conftest import (  # noqa: E402, F401 (fixtures)
    _xero_server,
    fake_xero,
    xero_connected,
)
