"""Patient alerts (allergies, risks, access needs) are in sight when booking and on the
appointment's block and panel, at no extra query per appointment."""

import pytest

from tests.conftest import MONDAY, sydney
from tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def wary(practice):
    patient = PatientFactory(given_name="Ada", family_name="Lovelace", alerts="Latex allergy")
    return AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )


def test_the_calendar_block_and_panel_show_the_alert(desk, practice, wary):
    calendar = desk.get("/calendar/", {"clinic": practice.clinic.pk, "date": MONDAY})
    panel = desk.get(f"/calendar/appointments/{wary.pk}/")

    assert "Alert: Latex allergy" in calendar.content.decode()
    assert "<strong>Alert:</strong> Latex allergy" in panel.content.decode()


def test_choosing_a_patient_to_book_shows_their_alert(desk, wary):
    picked = desk.get("/patients/pick/", {"q": "Lovelace"})

    assert "Alert: Latex allergy" in picked.content.decode()


def test_alerts_cost_no_query_per_appointment(desk, practice, wary, django_assert_max_num_queries):
    for hour in (11, 12, 13, 14):
        AppointmentFactory(
            patient=PatientFactory(alerts="Uses a wheelchair"),
            clinician=practice.clinician,
            clinic=practice.clinic,
            appointment_type=practice.consult,
            start=sydney(MONDAY, hour),
        )
    desk.get("/calendar/", {"clinic": practice.clinic.pk, "date": MONDAY})  # warm caches
    with django_assert_max_num_queries(20) as counted:
        page = desk.get("/calendar/", {"clinic": practice.clinic.pk, "date": MONDAY})
    assert page.content.decode().count("Alert: Uses a wheelchair") == 4
    one = len(counted.captured_queries)
    AppointmentFactory(
        patient=PatientFactory(alerts="Hard of hearing"),
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 15),
    )
    desk.get("/calendar/", {"clinic": practice.clinic.pk, "date": MONDAY})  # the grid again
    with django_assert_max_num_queries(one):
        desk.get("/calendar/", {"clinic": practice.clinic.pk, "date": MONDAY})
