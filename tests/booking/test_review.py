"""An online booking never joins an existing record on its own: the public page answers
the same for everyone, and reception accepts, merges or declines each booking, audited
(issue 12 item 2)."""

import re
from urllib.parse import parse_qs

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from appointments.models import Appointment, OnlineBooking
from audit.models import AuditEvent
from audit.selectors import auditevent_for_patient
from patients.models import Patient
from tests.booking.test_online_booking import DETAILS, first_slot
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def grace(db) -> Patient:
    """A real patient whose name, birthday and mobile a stranger happens to know."""
    return PatientFactory(
        given_name="Grace", family_name="Hopper", date_of_birth="1985-12-09", phone="+61412345678"
    )


def _post(client: Client, url: str, **details: str):
    path, _, query = url.partition("?")
    slot = {k: v[0] for k, v in parse_qs(query).items()}
    return client.post(path, {**slot, **DETAILS, **details})


def _book(clinician, **details: str):
    client = Client()
    slot = first_slot(client, clinician)
    with CaptureQueriesContext(connection) as queries:
        response = _post(client, slot, **details)
    return response, len(queries)


def test_booking_as_an_existing_patient_answers_exactly_as_for_a_stranger(listed, grace):
    clinician, _, _ = listed

    known, known_queries = _book(clinician)
    stranger, stranger_queries = _book(clinician, given_name="Alan", family_name="Turing")

    assert known.status_code == stranger.status_code == 302
    assert re.sub(r"/book/done/[^/]+/", "", known["Location"]) == ""
    assert re.sub(r"/book/done/[^/]+/", "", stranger["Location"]) == ""
    # The same work on both paths: no timing difference to measure either.
    assert known_queries == stranger_queries
    assert not grace.appointments.exists()
    assert OnlineBooking.objects.filter(status="pending").count() == 2


def test_a_long_email_gets_the_same_clear_refusal_for_everyone(listed, grace):
    clinician, _, _ = listed
    long_email = "a" * 300 + "@example.com"  # 312 characters: the form allowed 320

    known, _ = _book(clinician, email=long_email)
    stranger, _ = _book(clinician, email=long_email, given_name="Alan")

    assert known.status_code == stranger.status_code == 200
    assert "at most 254" in known.content.decode()
    assert not Appointment.objects.exists()


def test_the_message_stays_out_of_the_record_until_reception_accepts_it(listed, reception_user):
    clinician, _, _ = listed
    _book(clinician, notes="Knee pain since Tuesday")
    appointment = Appointment.objects.get()
    assert appointment.notes == ""
    booking = OnlineBooking.objects.get()
    staff = Client()
    staff.force_login(reception_user)

    page = staff.get("/online-bookings/")
    staff.post(f"/online-bookings/{booking.pk}/", {"decision": "accept", "keep_message": "on"})

    assert "Knee pain since Tuesday" in page.content.decode()
    appointment.refresh_from_db()
    booking.refresh_from_db()
    assert appointment.notes == "Knee pain since Tuesday"
    assert (booking.status, booking.reviewed_by) == ("accepted", reception_user)


def test_reception_merges_a_returning_patients_booking_into_their_record(
    listed, grace, reception_user
):
    clinician, _, _ = listed
    _book(clinician)
    booking = OnlineBooking.objects.get()
    made = booking.appointment.patient
    staff = Client()
    staff.force_login(reception_user)

    page = staff.get("/online-bookings/")
    assert f'name="patient" value="{grace.pk}"' in page.content.decode()
    response = staff.post(
        f"/online-bookings/{booking.pk}/", {"decision": "merge", "patient": grace.pk}
    )

    assert response.status_code == 302
    booking.refresh_from_db()
    made.refresh_from_db()
    assert booking.appointment.patient == grace
    assert (booking.status, booking.merged_from) == ("merged", made)
    assert made.archived
    merged = AuditEvent.objects.filter(action="update", detail__view="online_booking_review")
    assert sorted(merged.values_list("patient_id", flat=True)) == sorted([made.pk, grace.pk])
    assert auditevent_for_patient(patient_id=grace.pk).filter(action="read").exists()


def test_a_merge_is_only_into_a_patient_the_details_match(listed, reception_user):
    clinician, _, _ = listed
    _book(clinician)
    booking = OnlineBooking.objects.get()
    unrelated = PatientFactory(family_name="Somebody", date_of_birth="1970-01-01")
    staff = Client()
    staff.force_login(reception_user)

    staff.post(f"/online-bookings/{booking.pk}/", {"decision": "merge", "patient": unrelated.pk})

    booking.refresh_from_db()
    assert booking.status == "pending"
    assert not unrelated.appointments.exists()


def test_declining_frees_the_time_and_a_booking_is_reviewed_once(listed, reception_user):
    clinician, _, _ = listed
    _book(clinician)
    booking = OnlineBooking.objects.get()
    staff = Client()
    staff.force_login(reception_user)

    staff.post(f"/online-bookings/{booking.pk}/", {"decision": "decline"})
    again = staff.post(f"/online-bookings/{booking.pk}/", {"decision": "accept"})

    booking.refresh_from_db()
    assert booking.status == "declined"
    assert booking.appointment.status == "cancelled"
    assert again.status_code == 404


def test_only_front_desk_staff_review_online_bookings(client, listed):
    from tests.factories import UserFactory

    nobody = UserFactory()
    client.force_login(nobody)

    assert client.get("/online-bookings/").status_code == 403
