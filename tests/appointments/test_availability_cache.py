"""The API's free slots are cached per clinician (appointments.selectors.clinician_free_times)
and every change to the clinician's free time shows on the next request: a booking, a
cancellation, time off, a hold taken and one that lapses, and the clock."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from appointments.models import SlotHold
from appointments.services import appointment_book, appointment_cancel
from clinicians.services import time_off_remove
from tests.conftest import MONDAY, Practice, sydney
from tests.factories import TimeOffFactory

pytestmark = pytest.mark.django_db


def free(api, practice: Practice) -> list[datetime]:  # type: ignore[no-untyped-def]
    """The starts the API offers for the practice's consult in the week of MONDAY."""
    response = api.get(
        f"/api/v1/clinicians/{practice.clinician.pk}/availability/",
        {"start": "2032-03-01", "end": "2032-03-07", "appointment_type": practice.consult.pk},
    )
    assert response.status_code == 200
    return [datetime.fromisoformat(slot["start"]) for slot in response.json()]


def test_a_booking_leaves_the_answer_at_once_and_its_cancellation_brings_it_back(
    reception_api, practice, patient
):
    # Given the week asked for once (and so cached)
    first = free(reception_api, practice)[0]

    # When that time is booked, then cancelled
    appointment = appointment_book(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=first,
        notify=False,
    )
    while_booked = free(reception_api, practice)
    appointment_cancel(appointment=appointment, reason="Unwell")

    # Then the next request saw each change
    assert first == sydney(MONDAY, 9)
    assert first not in while_booked
    assert first in free(reception_api, practice)


def test_time_off_shows_on_the_next_request(reception_api, practice):
    free(reception_api, practice)

    leave = TimeOffFactory(
        clinician=practice.clinician, start=sydney(MONDAY, 0), end=sydney(MONDAY, 23)
    )
    during = free(reception_api, practice)
    time_off_remove(leave=leave)

    assert during[0] == sydney(MONDAY + timedelta(days=1), 9)
    assert free(reception_api, practice)[0] == sydney(MONDAY, 9)


def test_a_hold_takes_its_time_and_lapsing_gives_it_back(reception_api, practice, monkeypatch):
    free(reception_api, practice)
    now = timezone.now()
    SlotHold.objects.create(
        key="k" * 40,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 9),
        end=sydney(MONDAY, 9, 30),
        expires_at=now + timedelta(minutes=5),
    )
    assert sydney(MONDAY, 9) not in free(reception_api, practice)

    # Six minutes on, nobody has written anything; the hold has lapsed.
    later = now + timedelta(minutes=6)
    monkeypatch.setattr("appointments.holds._now", lambda: later)
    monkeypatch.setattr("appointments.calendar_cache.time.time", lambda: later.timestamp())

    assert sydney(MONDAY, 9) in free(reception_api, practice)


def test_times_that_have_passed_are_not_offered_from_the_cache(
    reception_api, practice, monkeypatch
):
    free(reception_api, practice)

    monkeypatch.setattr("django.utils.timezone.now", lambda: sydney(MONDAY, 12))

    assert free(reception_api, practice)[0] == sydney(MONDAY, 12)
