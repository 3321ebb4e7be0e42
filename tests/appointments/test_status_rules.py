"""The panel's status buttons: a fixed order, arrival only on the day, no-show only after the
start, and an undo (audited) of an arrival, a no-show or a completion on the day (issue 10.2-3)."""

import re
from datetime import timedelta

import pytest
from django.test import Client

from appointments.models import Appointment
from appointments.services import (
    appointment_next_statuses,
    appointment_transition,
    appointment_undo_status,
)
from audit.models import AuditEvent
from nexus.errors import InvalidTransition, SlotUnavailable
from tests.conftest import MONDAY, sydney
from tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db


def buttons(client: Client, appointment: Appointment) -> list[str]:
    html = client.get(f"/calendar/appointments/{appointment.pk}/").content.decode()
    return re.findall(r'name="to" value="([^"]+)"', html)


def test_the_buttons_come_in_the_clinic_days_order_on_the_day(desk, at_ten, now_is):
    now_is(sydney(MONDAY, 10, 5))

    assert buttons(desk, at_ten) == ["confirmed", "arrived", "no_show"]


def test_before_the_day_only_confirming_is_offered(desk, at_ten, now_is):
    now_is(sydney(MONDAY, 10) - timedelta(days=1))

    assert buttons(desk, at_ten) == ["confirmed"]


def test_on_the_day_before_the_start_arrival_is_offered_but_not_no_show(at_ten, now_is):
    now = sydney(MONDAY, 9)

    assert appointment_next_statuses(appointment=at_ten, now=now) == [
        "confirmed",
        "arrived",
        "cancelled",
    ]


def test_a_future_arrival_or_no_show_is_refused_with_a_reason(desk, at_ten, now_is):
    now_is(sydney(MONDAY, 10) - timedelta(days=2))

    arrive = desk.post(f"/calendar/appointments/{at_ten.pk}/status/", {"to": "arrived"})
    no_show = desk.post(f"/calendar/appointments/{at_ten.pk}/status/", {"to": "no_show"})

    assert "only on the day of the appointment" in arrive.content.decode()
    assert "only after the appointment starts" in no_show.content.decode()
    at_ten.refresh_from_db()
    assert at_ten.status == "booked"


def test_no_show_before_the_start_is_refused_by_the_service(at_ten):
    with pytest.raises(InvalidTransition):
        appointment_transition(appointment=at_ten, to="no_show", now=sydney(MONDAY, 9, 59))


@pytest.mark.parametrize(
    ("steps", "undone_to"),
    [
        (["confirmed", "arrived"], "confirmed"),
        (["arrived"], "booked"),
        (["arrived", "completed"], "arrived"),
        (["confirmed", "no_show"], "confirmed"),
    ],
)
def test_staff_undo_an_arrival_a_no_show_or_a_completion_on_the_day(
    desk, at_ten, now_is, steps, undone_to
):
    now_is(sydney(MONDAY, 10, 20))
    for step in steps:
        assert (
            desk.post(f"/calendar/appointments/{at_ten.pk}/status/", {"to": step}).status_code
            == 302
        )
    panel = desk.get(f"/calendar/appointments/{at_ten.pk}/").content.decode()
    assert "Undo" in panel

    response = desk.post(f"/calendar/appointments/{at_ten.pk}/undo/")

    assert response.status_code == 302
    at_ten.refresh_from_db()
    assert at_ten.status == undone_to
    event = AuditEvent.objects.filter(detail__view="calendar_undo").get()
    assert (event.action, event.patient_id) == ("update", at_ten.patient_id)
    assert event.detail["undone"] == steps[-1] and event.detail["to"] == undone_to


def test_an_arrival_and_its_undo_can_both_be_undone_back_to_booked(at_ten):
    now = sydney(MONDAY, 10, 30)
    appointment_transition(appointment=at_ten, to="arrived", now=now)
    appointment_transition(appointment=at_ten, to="completed", now=now)

    appointment_undo_status(appointment=at_ten, now=now)
    back = appointment_undo_status(appointment=at_ten, now=now)

    assert back.status == "booked"


def test_there_is_no_undo_the_next_day(desk, at_ten, now_is):
    appointment_transition(appointment=at_ten, to="arrived", now=sydney(MONDAY, 10))
    now_is(sydney(MONDAY, 10) + timedelta(days=1))

    panel = desk.get(f"/calendar/appointments/{at_ten.pk}/").content.decode()
    refused = desk.post(f"/calendar/appointments/{at_ten.pk}/undo/")

    assert "Undo" not in panel
    assert "nothing to undo today" in refused.content.decode()
    at_ten.refresh_from_db()
    assert at_ten.status == "arrived"


def test_a_no_show_cannot_be_undone_once_its_time_is_rebooked(practice, at_ten):
    now = sydney(MONDAY, 10, 20)
    appointment_transition(appointment=at_ten, to="no_show", now=now)
    AppointmentFactory(
        patient=PatientFactory(),
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )

    with pytest.raises(SlotUnavailable):
        appointment_undo_status(appointment=at_ten, now=now)
