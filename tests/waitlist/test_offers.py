"""A freed time goes to the best-matched waiting patients by SMS; YES books it, NO and
silence pass it on; the database decides a tie and a patient is never booked twice."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.test import Client
from django.utils import timezone

from appointments.models import Appointment
from appointments.services import appointment_book, appointment_cancel
from integrations.models import InboundMessage, Message
from tests.conftest import MONDAY, sydney
from tests.factories import AppointmentFactory, ClinicianFactory, DisciplineFactory, PatientFactory
from tests.waitlist.conftest import INBOUND, waiting
from waitlist.models import WaitlistEntry, WaitlistOffer
from waitlist.services import (
    waitlist_offer_time,
    waitlist_offers_lapse,
    waitlist_settings_update,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def booked(practice):
    """Monday 10:00 with the practice's clinician, about to be cancelled."""
    return AppointmentFactory(
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )


def cancel(appointment, capture):
    with capture(execute=True):
        appointment_cancel(appointment=appointment, reason="Unwell")


def reply(entry_or_offer, text="YES", *, ref=True):
    offer = entry_or_offer
    if isinstance(offer, WaitlistEntry):
        offer = offer.offers.get()
    params = {"to": "61400000000", "from": offer.message.to.lstrip("+"), "message": text}
    if ref:
        params["ref"] = str(offer.message.pk)
    return Client().get(INBOUND, params)


def test_a_cancelled_time_is_offered_to_the_most_urgent_then_longest_waiting(
    practice, booked, django_capture_on_commit_callbacks
):
    waiting(practice)  # routine, waiting longest
    first = waiting(practice, urgency=WaitlistEntry.Urgency.URGENT)
    waiting(practice, urgency=WaitlistEntry.Urgency.URGENT)

    cancel(booked, django_capture_on_commit_callbacks)

    offer = WaitlistOffer.objects.get()
    assert (offer.entry, offer.start, offer.status) == (first, booked.start, "pending")
    assert offer.expires_at - offer.created_at == pytest.approx(
        timedelta(minutes=30), abs=timedelta(seconds=5)
    )
    first.refresh_from_db()
    assert first.status == "offered"
    text = offer.message
    assert (text.kind, text.channel, text.to, text.patient) == (
        "waitlist_offer",
        "sms",
        str(first.patient.phone),
        first.patient,
    )
    assert "Mon 1 Mar at 10:00 am" in text.body
    assert text.body.endswith("Reply YES within 30 min to book it.")


def test_times_that_do_not_suit_or_patients_without_consent_get_no_offer(
    practice, booked, django_capture_on_commit_callbacks
):
    waiting(practice, days=[1, 2])  # not Mondays
    waiting(practice, earliest=sydney(MONDAY, 11).time())  # not before 11
    waiting(practice, patient=PatientFactory(sms_consent=False))
    waiting(practice, patient=PatientFactory(sms_consent=True, phone="+61298765432"))  # landline
    other = ClinicianFactory(clinics=[practice.clinic])
    waiting(practice, clinician=other)

    cancel(booked, django_capture_on_commit_callbacks)

    assert not WaitlistOffer.objects.exists()
    assert not Message.objects.filter(kind="waitlist_offer").exists()


def test_a_discipline_entry_matches_any_clinician_of_that_discipline(
    practice, booked, django_capture_on_commit_callbacks
):
    practice.clinician.disciplines.add(DisciplineFactory(name="Podiatry"))
    entry = waiting(practice, clinician=None, discipline=DisciplineFactory(name="Podiatry"))
    waiting(practice, clinician=None, discipline=DisciplineFactory(name="Orthotics"))

    cancel(booked, django_capture_on_commit_callbacks)

    assert WaitlistOffer.objects.get().entry == entry


def test_the_first_few_mode_offers_the_time_to_n_patients_at_once(
    practice, booked, django_capture_on_commit_callbacks
):
    waitlist_settings_update(offer_mode="first_n", offer_batch=3, offer_expiry_minutes=15)
    entries = [waiting(practice) for _ in range(4)]

    cancel(booked, django_capture_on_commit_callbacks)

    offered = {o.entry for o in WaitlistOffer.objects.all()}
    assert offered == set(entries[:3])
    assert "Reply YES within 15 min" in WaitlistOffer.objects.first().message.body


def test_yes_books_the_offered_time_and_the_other_offers_lapse(
    practice, booked, django_capture_on_commit_callbacks
):
    waitlist_settings_update(offer_mode="first_n", offer_batch=2, offer_expiry_minutes=30)
    winner, other = waiting(practice), waiting(practice)
    cancel(booked, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        response = reply(winner, " yes ")

    assert response.status_code == 200
    appointment = Appointment.objects.get(patient=winner.patient)
    assert (appointment.start, appointment.status, appointment.clinician) == (
        booked.start,
        "booked",
        practice.clinician,
    )
    winner.refresh_from_db()
    other.refresh_from_db()
    assert (winner.status, winner.offers.get().status) == ("booked", "accepted")
    assert (other.status, other.offers.get().status) == ("active", "lapsed")
    inbound = InboundMessage.objects.get()
    assert (inbound.outcome, inbound.appointment, inbound.patient) == (
        "booked",
        appointment,
        winner.patient,
    )
    confirmation = Message.objects.get(kind="confirmation")
    assert confirmation.appointment == appointment


def test_a_late_yes_is_told_politely_the_time_has_gone(
    practice, booked, django_capture_on_commit_callbacks
):
    waitlist_settings_update(offer_mode="first_n", offer_batch=2, offer_expiry_minutes=30)
    first, second = waiting(practice), waiting(practice)
    cancel(booked, django_capture_on_commit_callbacks)
    reply(first)

    reply(second, "Yes")

    assert Appointment.objects.filter(start=booked.start, status="booked").count() == 1
    assert not Appointment.objects.filter(patient=second.patient).exists()
    taken = Message.objects.get(kind="waitlist_taken")
    assert (taken.patient, taken.to) == (second.patient, str(second.patient.phone))
    assert "has already gone" in taken.body
    assert InboundMessage.objects.filter(outcome="taken").count() == 1


def test_a_time_booked_by_hand_meanwhile_is_taken_not_double_booked(
    practice, booked, django_capture_on_commit_callbacks
):
    entry = waiting(practice)
    cancel(booked, django_capture_on_commit_callbacks)
    appointment_book(
        patient=PatientFactory(),
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=booked.start,
    )

    reply(entry)

    entry.refresh_from_db()
    assert (entry.status, entry.offers.get().status) == ("active", "taken")
    assert Message.objects.filter(kind="waitlist_taken", patient=entry.patient).exists()


def test_no_declines_and_the_next_patient_is_asked(
    practice, booked, django_capture_on_commit_callbacks
):
    first, second = waiting(practice), waiting(practice)
    cancel(booked, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        reply(first, "no")

    first.refresh_from_db()
    assert (first.status, first.offers.get().status) == ("active", "declined")
    assert second.offers.get().status == "pending"
    assert InboundMessage.objects.get().outcome == "declined"
    # The NO answered the offer: nothing of the patient's own was cancelled.
    assert Appointment.objects.filter(status="cancelled").count() == 1


def test_silence_lapses_the_offer_and_the_next_patient_is_asked(
    practice, booked, django_capture_on_commit_callbacks
):
    first, second = waiting(practice), waiting(practice)
    cancel(booked, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        lapsed = waitlist_offers_lapse(now=timezone.now() + timedelta(minutes=31))

    assert lapsed == 1
    assert first.offers.get().status == "lapsed"
    assert second.offers.get().status == "pending"
    # A YES after the offer lapsed books nothing and is told so.
    reply(first)
    assert not Appointment.objects.filter(patient=first.patient).exists()
    assert Message.objects.filter(kind="waitlist_taken", patient=first.patient).exists()


def test_a_yes_without_ref_answers_the_latest_question_texted_to_that_number(
    practice, booked, django_capture_on_commit_callbacks
):
    patient = PatientFactory(sms_consent=True)
    later = AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY + timedelta(days=7), 9),
    )
    Message.objects.create(
        kind="reminder", to=str(patient.phone), body="Reminder", patient=patient, appointment=later
    )
    entry = waiting(practice, patient=patient)
    cancel(booked, django_capture_on_commit_callbacks)

    reply(entry, "Y", ref=False)

    later.refresh_from_db()
    assert later.status == "booked"  # not confirmed: the YES answered the offer
    assert entry.offers.get().status == "accepted"


def test_a_yes_with_the_reminders_ref_confirms_that_appointment_instead(
    practice, booked, django_capture_on_commit_callbacks
):
    patient = PatientFactory(sms_consent=True)
    later = AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY + timedelta(days=7), 9),
    )
    reminder = Message.objects.create(
        kind="reminder", to=str(patient.phone), body="Reminder", patient=patient, appointment=later
    )
    entry = waiting(practice, patient=patient)
    cancel(booked, django_capture_on_commit_callbacks)

    Client().get(
        INBOUND, {"from": str(patient.phone).lstrip("+"), "message": "YES", "ref": reminder.pk}
    )

    later.refresh_from_db()
    assert later.status == "confirmed"
    assert entry.offers.get().status == "pending"


def test_a_time_is_never_offered_to_the_same_entry_twice(practice, booked):
    entry = waiting(practice)
    booked.status = "cancelled"
    booked.save()
    slot = {
        "clinician": practice.clinician,
        "clinic": practice.clinic,
        "start": booked.start,
        "end": booked.end,
    }

    first = waitlist_offer_time(**slot)
    WaitlistOffer.objects.update(status="declined")
    WaitlistEntry.objects.update(status="active")
    again = waitlist_offer_time(**slot)

    assert (len(first), again) == (1, [])
    assert entry.offers.count() == 1


def test_the_database_refuses_an_entry_with_both_clinician_and_discipline(practice, patient):
    entry = WaitlistEntry(
        patient=patient,
        clinician=practice.clinician,
        discipline=DisciplineFactory(),
        appointment_type=practice.consult,
        days=[0],
    )

    with pytest.raises(IntegrityError):
        entry.save()


def test_the_database_gives_a_time_to_one_accepted_offer_only(practice, booked):
    a, b = waiting(practice), waiting(practice)
    fields = {
        "clinician": practice.clinician,
        "clinic": practice.clinic,
        "start": booked.start,
        "end": booked.end,
        "expires_at": booked.start,
        "status": "accepted",
    }
    WaitlistOffer.objects.create(entry=a, **fields)

    with pytest.raises(IntegrityError):
        WaitlistOffer.objects.create(entry=b, **fields)


def test_removed_time_off_offers_the_freed_time(practice, django_capture_on_commit_callbacks):
    from clinicians.services import time_off_remove
    from tests.factories import TimeOffFactory

    leave = TimeOffFactory(
        clinician=practice.clinician, start=sydney(MONDAY, 9), end=sydney(MONDAY, 13)
    )
    AppointmentFactory(
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 9),
    )
    entry = waiting(practice)

    with django_capture_on_commit_callbacks(execute=True):
        time_off_remove(leave=leave)

    offer = entry.offers.get()
    # The first free time after the 9:00 appointment, on the block's grid.
    assert (offer.start, offer.end) == (sydney(MONDAY, 9, 30), sydney(MONDAY, 10))


def test_a_live_online_hold_keeps_the_time_from_the_waitlist(practice, booked):
    from appointments.models import SlotHold

    entry = waiting(practice)
    booked.status = "cancelled"
    booked.save()
    SlotHold.objects.create(
        key="k" * 64,
        appointment_type=practice.consult,
        clinician=practice.clinician,
        clinic=practice.clinic,
        start=booked.start,
        end=booked.end,
        expires_at=timezone.now() + timedelta(minutes=5),
    )

    offers = waitlist_offer_time(
        clinician=practice.clinician, clinic=practice.clinic, start=booked.start, end=booked.end
    )

    assert offers == []
    assert not entry.offers.exists()


def test_new_weekly_hours_offer_the_time_they_open(practice, django_capture_on_commit_callbacks):
    from clinicians.services import working_hours_added
    from tests.factories import WorkingHoursFactory

    # Given a patient waiting for Saturdays, which the clinician has never worked
    entry = waiting(practice, days=[5])
    assert not entry.offers.exists()

    # When Saturday hours are added
    with django_capture_on_commit_callbacks(execute=True):
        WorkingHoursFactory(clinician=practice.clinician, clinic=practice.clinic, weekday=5)
        working_hours_added(clinician_id=practice.clinician.pk, clinic_ids=[practice.clinic.pk])

    # Then the patient is offered a Saturday time within the coming two weeks, by SMS
    offer = entry.offers.get()
    local = offer.start.astimezone(practice.clinic.tz)
    assert local.weekday() == 5
    assert timezone.now() < offer.start < timezone.now() + timedelta(days=15)
    assert offer.message.kind == "waitlist_offer"


def offer_no_show(practice, booked, *, at):
    """`booked` became a no-show; the task that runs after it commits offers its time at `at`."""
    from waitlist.services import waitlist_time_offer

    booked.status = "no_show"
    booked.save()
    return waitlist_time_offer(
        clinician_id=practice.clinician.pk,
        clinic_id=practice.clinic.pk,
        start=booked.start,
        end=booked.end,
        now=at,
    )


def test_a_no_show_offers_what_is_left_of_its_time_from_the_next_start(practice, booked):
    entry = waiting(practice)

    # When the 10:00 patient has not come by 10:05
    sent = offer_no_show(practice, booked, at=sydney(MONDAY, 10, 5))

    # Then the rest of it goes out from the next start on the grid, not the past 10:00
    offer = entry.offers.get()
    assert sent == 1
    assert (offer.start, offer.end) == (sydney(MONDAY, 10, 15), sydney(MONDAY, 10, 45))
    assert offer.expires_at == sydney(MONDAY, 10, 35)
    assert "10:15 am" in offer.message.body


def test_a_no_show_marked_after_its_time_ended_offers_nothing(practice, booked):
    entry = waiting(practice)

    sent = offer_no_show(practice, booked, at=sydney(MONDAY, 11))

    assert sent == 0
    assert not entry.offers.exists()
