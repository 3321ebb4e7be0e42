"""Time off added over booked appointments: the warning names them and the calendar marks
them, so reception knows whom to call (issue 10.12)."""

import pytest

from tests.conftest import MONDAY, signed_in, sydney
from tests.factories import AppointmentFactory, PatientFactory, TimeOffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def booked(practice):
    return AppointmentFactory(
        patient=PatientFactory(given_name="Ada", family_name="Lovelace"),
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )


def test_the_warning_names_each_booked_appointment_in_the_time_off(practice, booked):
    admin = signed_in("practice_admin")

    response = admin.post(
        f"/setup/clinicians/{practice.clinician.pk}/time-off/",
        {"clinic": "", "start": f"{MONDAY}T09:00", "end": f"{MONDAY}T12:00", "reason": "Sick"},
        follow=True,
    )

    page = response.content.decode()
    assert "1 booked appointment fall in it: Mon 1 Mar 10:00 AM Ada Lovelace." in page


def test_the_calendar_marks_an_appointment_caught_in_time_off(practice, booked):
    TimeOffFactory(clinician=practice.clinician, start=sydney(MONDAY, 9), end=sydney(MONDAY, 12))
    AppointmentFactory(
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 14),
    )

    response = signed_in("reception").get(
        "/calendar/", {"clinic": practice.clinic.pk, "date": MONDAY}
    )

    (column,) = response.context["page"].columns
    assert [p.during_time_off for p in column.appointments] == [True, False]
    assert response.content.decode().count("During time off: move it") == 1
