"""Choosing a time online holds it for a few minutes: other visitors are told it is being
booked, staff and API bookings are refused over it, availability hides it, and once it
expires (or is let go) anyone can have it. Time is moved with a now-override, never slept."""

import re
import threading
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from appointments import holds
from appointments.holds import SlotHeld
from appointments.models import Appointment, SlotHold
from appointments.services import appointment_book
from nexus.errors import DomainError
from tests.conftest import requires_postgres, sydney
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

DETAILS = {
    "given_name": "Grace",
    "family_name": "Hopper",
    "date_of_birth": "1985-12-09",
    "phone": "0412 345 678",
    "consent": "on",
    "sms_consent": "on",
}


def _day() -> date:
    return timezone.localdate() + timedelta(days=3)


def _slot(listed, hour: int = 10):
    clinician, clinic, consult = listed
    start = sydney(_day(), hour)
    url = f"/book/{clinician.pk}/details/"
    return url, {"type": consult.pk, "clinic": clinic.pk, "start": start.isoformat()}, start


def _later(monkeypatch, minutes: int) -> None:
    moment = timezone.now() + timedelta(minutes=minutes)
    monkeypatch.setattr(holds, "_now", lambda: moment)


def _page(response) -> str:
    return response.content.decode()


def test_a_second_visitor_is_told_the_time_is_held_until_it_expires(listed, monkeypatch):
    url, slot, start = _slot(listed)
    first, second = Client(), Client()

    chosen = first.get(url, slot)
    assert chosen.status_code == 200
    assert "holding this time for you for 5 minutes" in _page(chosen)

    refused = second.get(url, slot, follow=True)
    assert refused.redirect_chain, "sent back to the times"
    assert "Someone is booking this time right now" in _page(refused)
    assert "try again in 5 minutes" in _page(refused)
    booked = second.post(url, {**slot, **DETAILS})
    assert booked.status_code == 200 and "Someone is booking this time" in _page(booked)
    assert not Appointment.objects.exists()

    _later(monkeypatch, 6)  # the first visitor wandered off; their hold has lapsed
    assert second.get(url, slot).status_code == 200
    assert second.post(url, {**slot, **DETAILS}).status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.start == start
    assert list(SlotHold.objects.all()) == []  # the lapsed hold and the winner's both gone


def test_the_holder_books_their_held_time(listed):
    url, slot, start = _slot(listed)
    visitor = Client()
    visitor.get(url, slot)

    booked = visitor.post(url, {**slot, **DETAILS})

    assert booked.status_code == 302
    assert Appointment.objects.get().start == start
    assert not SlotHold.objects.exists()


def test_a_held_time_is_not_offered_to_others_and_comes_back_when_let_go(listed):
    clinician, _, consult = listed
    url, slot, start = _slot(listed)
    holder, other = Client(), Client()
    page_url = f"/book/{clinician.pk}/"
    local = start.astimezone(clinician.clinics.get().tz).isoformat()

    holder.get(url, slot)
    offered = other.get(page_url, {"type": consult.pk, "week": 0})
    assert local not in [s.local_start.isoformat() for _, d in offered.context["days"] for s in d]

    holder.post(f"/book/{clinician.pk}/release/", {"type": consult.pk})
    assert not SlotHold.objects.exists()
    offered = other.get(page_url, {"type": consult.pk, "week": 0})
    assert local in [s.local_start.isoformat() for _, d in offered.context["days"] for s in d]


def test_choosing_another_time_moves_the_visitors_one_hold(listed):
    url, slot, _ = _slot(listed)
    _, other_slot, other_start = _slot(listed, hour=14)
    visitor = Client()

    visitor.get(url, slot)
    visitor.get(url, other_slot)
    visitor.get(url, other_slot)  # choosing it again neither adds a hold nor extends it

    assert [h.start for h in SlotHold.objects.all()] == [other_start]


def test_staff_booking_over_a_live_hold_is_refused_clearly(listed, monkeypatch):
    clinician, clinic, consult = listed
    url, slot, start = _slot(listed)
    Client().get(url, slot)
    patient = PatientFactory()

    with pytest.raises(SlotHeld) as refused:
        appointment_book(
            patient=patient,
            clinician=clinician,
            clinic=clinic,
            appointment_type=consult,
            start=start + timedelta(minutes=30),  # overlapping the held hour
        )
    assert "Someone is booking this time right now" in refused.value.detail

    _later(monkeypatch, 6)
    appointment = appointment_book(
        patient=patient, clinician=clinician, clinic=clinic, appointment_type=consult, start=start
    )
    assert appointment.pk


def test_the_api_answers_409_slot_held(listed, reception_api):
    clinician, clinic, consult = listed
    url, slot, start = _slot(listed)
    Client().get(url, slot)

    response = reception_api.post(
        "/api/v1/appointments/",
        {
            "patient": PatientFactory().pk,
            "clinician": clinician.pk,
            "clinic": clinic.pk,
            "appointment_type": consult.pk,
            "start": start.isoformat(),
        },
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "slot_held"


def test_the_hold_key_never_appears_in_a_url_or_the_page(listed):
    url, slot, _ = _slot(listed)
    visitor = Client()
    page = _page(visitor.get(url, slot))

    key = SlotHold.objects.get().key
    assert key not in page
    assert not re.search(re.escape(key), str(visitor.cookies))


def test_the_sweep_deletes_only_expired_holds(listed, monkeypatch):
    url, slot, _ = _slot(listed)
    _, other_slot, _ = _slot(listed, hour=14)
    Client().get(url, slot)
    _later(monkeypatch, 3)
    Client().get(url, other_slot)

    _later(monkeypatch, 6)
    from appointments.tasks import slot_holds_release_task

    assert slot_holds_release_task() == 1
    assert SlotHold.objects.count() == 1


def _at_once(count: int, work) -> list[object]:
    """Run `work(i)` in `count` threads released together, each on its own connection."""
    barrier = threading.Barrier(count)
    results: list[object] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results.append(work(i))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_six_visitors_choosing_one_time_at_once_get_one_hold(listed):
    url, slot, _ = _slot(listed)

    codes = _at_once(6, lambda i: Client().get(url, slot).status_code)

    assert sorted(codes) == [200] + [302] * 5  # type: ignore[type-var]
    assert SlotHold.objects.count() == 1


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_visitors_and_staff_racing_for_one_time_never_share_it(listed):
    clinician, clinic, consult = listed
    url, slot, start = _slot(listed)
    patients = [PatientFactory() for _ in range(3)]

    def attempt(i: int) -> str:
        if i % 2:
            return "held" if Client().get(url, slot).status_code == 200 else "refused"
        try:
            appointment_book(
                patient=patients[i // 2],
                clinician=clinician,
                clinic=clinic,
                appointment_type=consult,
                start=start,
            )
        except DomainError:
            return "refused"
        return "booked"

    outcomes = _at_once(6, attempt)

    assert sorted(outcomes).count("refused") == 5, outcomes  # type: ignore[type-var]
    assert SlotHold.objects.count() + Appointment.objects.count() == 1
