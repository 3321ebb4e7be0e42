"""The printable day sheet: a clinic's day, one section per clinician, or one clinician's."""

import pytest
from django.test import Client

from audit.models import AuditEvent
from tests.conftest import MONDAY, sydney
from tests.factories import (
    AppointmentFactory,
    ClinicianFactory,
    PatientFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def day(practice):
    other = ClinicianFactory(clinics=[practice.clinic], given_name="Liam", family_name="Aaron")
    WorkingHoursFactory(clinician=other, clinic=practice.clinic, weekday=0)
    ada = PatientFactory(given_name="Ada", family_name="Lovelace", phone="0412 345 678")
    grace = PatientFactory(given_name="Grace", family_name="Hopper")
    booked = [
        AppointmentFactory(
            patient=patient,
            clinician=clinician,
            clinic=practice.clinic,
            appointment_type=practice.consult,
            start=sydney(MONDAY, hour),
            status=status,
        )
        for patient, clinician, hour, status in [
            (ada, practice.clinician, 14, "booked"),
            (grace, practice.clinician, 9, "arrived"),
            (grace, other, 10, "booked"),
            (ada, other, 11, "cancelled"),
        ]
    ]
    return other, booked


def sheet(client: Client, practice, **query):
    params = {"clinic": practice.clinic.pk, "date": MONDAY.isoformat(), **query}
    return client.get("/calendar/sheet/", params)


def test_the_clinic_sheet_lists_each_clinicians_day_in_order(desk, practice, day):
    other, booked = day

    response = sheet(desk, practice)

    assert response.status_code == 200
    sheets = response.context["sheets"]
    assert [s.clinician.pk for s in sheets] == [other.pk, practice.clinician.pk]
    assert [[row.appointment.pk for row in s.rows] for s in sheets] == [
        [booked[2].pk],
        [booked[1].pk, booked[0].pk],
    ]
    page = response.content.decode()
    assert "2:00 PM\u20132:30 PM" in page and "0412 345 678" in page
    assert "data-print" in page  # the Print button; the stylesheet breaks pages per clinician
    [shown] = AuditEvent.objects.filter(action="read", detail__view="day_sheet")
    assert len(shown.object_ids) == 3


def test_one_clinicians_sheet(desk, practice, day):
    other, booked = day

    response = sheet(desk, practice, clinician=other.pk)

    (only,) = response.context["sheets"]
    assert only.clinician == other and [r.appointment.pk for r in only.rows] == [booked[2].pk]


def test_the_sheet_costs_the_same_for_any_number_of_appointments(
    desk, practice, day, django_assert_max_num_queries
):
    sheet(desk, practice)
    with django_assert_max_num_queries(8):
        assert sheet(desk, practice).status_code == 200


def test_the_calendar_links_to_the_day_sheet(desk, practice):
    response = desk.get("/calendar/", {"clinic": practice.clinic.pk, "date": MONDAY.isoformat()})

    assert response.context["sheet_url"] == (
        f"/calendar/sheet/?clinic={practice.clinic.pk}&date={MONDAY.isoformat()}"
    )
