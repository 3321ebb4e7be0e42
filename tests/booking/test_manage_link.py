"""The booking's own page, reached by the signed link in the confirmation: the SMS carries
it, the patient moves the time (within the notice rule) or cancels, and downloads an .ics."""

import re
from datetime import UTC, date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from appointments.models import Appointment
from appointments.services import appointment_book
from audit.models import AuditEvent
from integrations.models import Message
from tests.conftest import sydney
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


def _book(client: Client, listed, day: date, hour: int = 10) -> tuple[Appointment, str]:
    clinician, clinic, consult = listed
    slot = {"type": consult.pk, "clinic": clinic.pk, "start": sydney(day, hour).isoformat()}
    url = f"/book/{clinician.pk}/details/"
    client.get(url, slot)
    booked = client.post(url, {**slot, **DETAILS})
    assert booked.status_code == 302, booked.content.decode()
    return Appointment.objects.get(source="online"), booked["Location"]


def _link_in_sms() -> str:
    sms = Message.objects.get(kind=Message.Kind.CONFIRMATION, channel=Message.Channel.SMS)
    assert sms.to == "+61412345678"
    found = re.search(r"Change or cancel: http://testserver(/book/a/[^ ]+/)$", sms.body)
    assert found, sms.body
    return found.group(1)


def _in_days(days: int) -> date:
    return timezone.localdate() + timedelta(days=days)


def test_the_confirmation_sms_carries_the_link_to_the_booking_page(client, listed):
    _book(client, listed, _in_days(3))

    link = _link_in_sms()
    page = Client().get(link).content.decode()  # another browser: the phone

    assert "You're booked" in page
    assert "Grace" not in link and "Hopper" not in link
    assert "/book/move/" in page and "/book/cancel/" in page and ".ics" in page
    assert "Parramatta" in page and "Sydney time" in page


def test_the_patient_moves_the_time_by_the_link(client, listed):
    appointment, _ = _book(client, listed, _in_days(3))
    link = _link_in_sms()
    phone = Client()
    move_url = re.search(r'href="(/book/move/[^"]+)"', phone.get(link).content.decode()).group(1)  # type: ignore[union-attr]
    new_start = sydney(_in_days(4), 14)

    offered = phone.get(move_url)
    assert new_start.isoformat() in offered.content.decode()
    moved = phone.post(move_url, {"start": new_start.isoformat()}, follow=True)

    appointment.refresh_from_db()
    assert appointment.start == new_start
    assert appointment.end == new_start + timedelta(hours=1)
    assert "Your appointment has moved" in moved.content.decode()
    assert AuditEvent.objects.filter(detail__view="online_reschedule").exists()
    assert Message.objects.filter(kind=Message.Kind.MOVED, appointment=appointment).exists()


def test_moving_or_cancelling_inside_the_notice_period_is_refused(client, listed, settings):
    settings.NEXUS_BOOKING_CHANGE_NOTICE_HOURS = 24 * 5
    appointment, _ = _book(client, listed, _in_days(3))
    link = _link_in_sms()
    token = link.rstrip("/").rsplit("/", 1)[1]

    page = client.get(link).content.decode()
    assert "need at least 120 hours" in page
    moved = client.post(
        f"/book/move/{token}/", {"start": sydney(_in_days(4), 14).isoformat()}
    ).content.decode()
    cancelled = client.post(f"/book/cancel/{token}/").content.decode()

    appointment.refresh_from_db()
    assert appointment.start == sydney(_in_days(3), 10)
    assert appointment.status == Appointment.Status.BOOKED
    assert "at least 120 hours" in moved and "at least 120 hours" in cancelled


def test_moving_onto_a_taken_or_bad_time_is_a_clear_refusal(client, listed):
    appointment, _ = _book(client, listed, _in_days(3))
    token = _link_in_sms().rstrip("/").rsplit("/", 1)[1]
    clinician, clinic, consult = listed
    appointment_book(
        patient=PatientFactory(),
        clinician=clinician,
        clinic=clinic,
        appointment_type=consult,
        start=sydney(_in_days(4), 14),
    )

    taken = client.post(f"/book/move/{token}/", {"start": sydney(_in_days(4), 14, 30).isoformat()})
    nonsense = client.post(f"/book/move/{token}/", {"start": "next tuesday"})
    night = client.post(f"/book/move/{token}/", {"start": sydney(_in_days(4), 23).isoformat()})

    assert taken.status_code == nonsense.status_code == night.status_code == 200
    assert "just been taken" in taken.content.decode()
    assert "Choose one of the times" in nonsense.content.decode()
    assert "working hours" in night.content.decode().lower()
    appointment = Appointment.objects.get(pk=appointment.pk)
    assert appointment.start == sydney(_in_days(3), 10)


def test_the_ics_file_has_the_utc_times_a_stable_uid_and_no_patient_data(client, listed):
    appointment, _ = _book(client, listed, _in_days(3))
    token = _link_in_sms().rstrip("/").rsplit("/", 1)[1]

    response = client.get(f"/book/calendar/{token}/appointment.ics")
    body = response.content.decode()

    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    start_utc = sydney(_in_days(3), 10).astimezone(UTC)
    assert f"DTSTART:{start_utc:%Y%m%dT%H%M%S}Z\r\n" in body
    assert f"DTEND:{start_utc + timedelta(hours=1):%Y%m%dT%H%M%S}Z\r\n" in body
    assert "X-WR-TIMEZONE:Australia/Sydney" in body
    assert "SUMMARY:Initial consult with" in body
    uid = re.search(r"UID:(.+)\r\n", body).group(1)  # type: ignore[union-attr]
    assert uid == f"appointment-{appointment.pk}@testserver"
    assert "Grace" not in body and "Hopper" not in body and "0412" not in body

    client.post(f"/book/move/{token}/", {"start": sydney(_in_days(4), 14).isoformat()})
    again = client.get(f"/book/calendar/{token}/appointment.ics").content.decode()
    assert f"UID:{uid}\r\n" in again
    assert f"DTSTART:{sydney(_in_days(4), 14).astimezone(UTC):%Y%m%dT%H%M%S}Z" in again


def test_a_forged_link_is_404(client, listed):
    for path in ("/book/a/nope/", "/book/move/nope/", "/book/calendar/nope/appointment.ics"):
        assert client.get(path).status_code == 404


def test_every_public_page_shows_the_clinic_phone_and_time_zone(client, listed):
    clinician, clinic, consult = listed
    clinic.phone = "+61298765432"
    clinic.save()
    _, done_url = _book(client, listed, _in_days(3))
    slot = {"type": consult.pk, "clinic": clinic.pk, "start": sydney(_in_days(5), 10).isoformat()}

    for url, query in (
        ("/book/", {"type": consult.pk}),
        (f"/book/{clinician.pk}/", {}),
        (f"/book/{clinician.pk}/details/", slot),
        (done_url, {}),
        (done_url.replace("/done/", "/move/"), {}),
        (done_url.replace("/done/", "/cancel/"), {}),
    ):
        page = client.get(url, query).content.decode()
        assert "(02) 9876 5432" in page, url
        assert "Times are Sydney time" in page, url


def test_a_patient_who_asks_for_email_gets_the_link_by_email_too(client, listed):
    _book_with = {**DETAILS, "email": "grace@example.com", "email_consent": "on"}
    clinician, clinic, consult = listed
    slot = {"type": consult.pk, "clinic": clinic.pk, "start": sydney(_in_days(3), 10).isoformat()}
    url = f"/book/{clinician.pk}/details/"
    client.get(url, slot)
    assert client.post(url, {**slot, **_book_with}).status_code == 302

    channels = {m.channel: m for m in Message.objects.filter(kind=Message.Kind.CONFIRMATION)}
    assert set(channels) == {Message.Channel.SMS, Message.Channel.EMAIL}
    email = channels[Message.Channel.EMAIL]
    assert email.to == "grace@example.com"
    assert "Change or cancel: http://testserver/book/a/" in email.body


def test_asking_for_email_without_an_address_is_a_form_error(client, listed):
    clinician, clinic, consult = listed
    slot = {"type": consult.pk, "clinic": clinic.pk, "start": sydney(_in_days(3), 10).isoformat()}
    url = f"/book/{clinician.pk}/details/"

    response = client.post(url, {**slot, **DETAILS, "email_consent": "on"})

    assert response.status_code == 200
    assert "Enter your email address" in response.content.decode()
    assert not Appointment.objects.exists()
