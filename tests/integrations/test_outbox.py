"""The outbox: written with the change that causes it, sent once after commit, retried
with backoff on transient failures, failed at once on permanent ones, never re-sent when
the outcome is unknown."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from appointments.services import appointment_book
from audit.models import AuditEvent
from integrations.models import Message
from integrations.outbox import outbox_deliver, outbox_relay, outbox_sweep, retry_delay
from integrations.services import sms_send, sms_send_to_number
from nexus import crypto
from nexus.errors import NoMobileNumber, NoSmsConsent, ValidationFailed
from tests.conftest import MONDAY, signed_in, sydney
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def consenting(db):
    return PatientFactory(given_name="Ada", phone="+61412345678", sms_consent=True)


def book(practice, patient, hour=10):
    return appointment_book(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, hour),
    )


def test_a_committed_booking_leaves_exactly_one_confirmation_sent_once(
    practice, consenting, fake_sms, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = book(practice, consenting)

    message = Message.objects.get()
    assert (message.kind, message.appointment, message.status) == (
        "confirmation",
        appointment,
        "sent",
    )
    assert len(fake_sms.sent) == 1
    sent = fake_sms.sent[0]
    assert sent["to"] == "61412345678"
    assert sent["ref"] == str(message.pk)
    assert sent["from"] == "Nexus"
    # The clinic's local time, not UTC: 10:00 in Sydney.
    assert "Mon 1 Mar at 10:00 am" in sent["message"]
    assert message.provider_ref == sent["smsref"]


def test_a_rolled_back_booking_leaves_no_message_and_sends_nothing(
    practice, consenting, fake_sms, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        book(practice, consenting)
        raise RuntimeError("the request failed after booking")

    assert not Message.objects.exists()
    assert fake_sms.sent == []


def test_no_consent_or_no_mobile_books_without_a_text(practice, fake_sms):
    book(practice, PatientFactory(sms_consent=False), hour=10)
    book(practice, PatientFactory(sms_consent=True, phone="+61298765432"), hour=11)

    assert not Message.objects.exists()


def test_staff_sms_needs_consent_and_a_mobile(consenting):
    with pytest.raises(NoSmsConsent):
        sms_send(patient=PatientFactory(sms_consent=False), body="Hello")
    with pytest.raises(NoMobileNumber):
        sms_send(patient=PatientFactory(sms_consent=True, phone="+61298765432"), body="Hi")
    with pytest.raises(ValidationFailed):
        sms_send(patient=consenting, body="x" * 766)

    assert not Message.objects.exists()


def test_a_long_message_goes_in_parts(consenting, fake_sms, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sms_send(patient=consenting, body="y" * 400)

    assert fake_sms.sent[0]["maxsplit"] == "3"
    assert Message.objects.get().status == "sent"


def test_an_invalid_number_fails_at_once(consenting, fake_sms, django_capture_on_commit_callbacks):
    fake_sms.bad_numbers = {"61412345678"}

    with django_capture_on_commit_callbacks(execute=True):
        sms_send(patient=consenting, body="Hello")

    message = Message.objects.get()
    assert (message.status, message.attempts) == ("failed", 1)
    assert "Invalid Number" in message.last_error


@pytest.mark.parametrize("mode", ["error", "5xx", "timeout"])
def test_transient_failures_are_retried_later_then_sent(
    consenting, fake_sms, settings, mode, django_capture_on_commit_callbacks
):
    settings.SMSBROADCAST_TIMEOUT_SECONDS = 0.3
    fake_sms.mode = mode

    with django_capture_on_commit_callbacks(execute=True):
        sms_send(patient=consenting, body="Hello")

    message = Message.objects.get()
    assert (message.status, message.attempts) == ("queued", 1)
    assert message.next_attempt_at > timezone.now()
    assert message.last_error

    # The provider recovers; when the retry comes due the relay sends it.
    fake_sms.reset()
    Message.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert outbox_relay() == 1

    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, "")
    assert len(fake_sms.sent) == 1


def test_retries_stop_at_the_limit(consenting, fake_sms, settings):
    settings.NEXUS_OUTBOX_MAX_ATTEMPTS = 3
    fake_sms.mode = "error"
    message = sms_send(patient=consenting, body="Hello")

    for _ in range(3):
        Message.objects.update(next_attempt_at=timezone.now())
        outbox_deliver(message_id=message.pk)

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 3)
    assert "Insufficient credits" in message.last_error


def test_backoff_grows_with_jitter_and_is_capped(settings):
    settings.NEXUS_OUTBOX_RETRY_SECONDS = 30
    first, third = retry_delay(1), retry_delay(3)

    assert timedelta(seconds=15) <= first <= timedelta(seconds=30)
    assert timedelta(seconds=60) <= third <= timedelta(seconds=120)
    assert retry_delay(40) <= timedelta(minutes=30)
    assert len({retry_delay(5) for _ in range(20)}) > 1


def test_delivering_twice_sends_once(consenting, fake_sms):
    message = sms_send(patient=consenting, body="Hello")

    assert outbox_deliver(message_id=message.pk) == "sent"
    assert outbox_deliver(message_id=message.pk) == "skipped"
    assert outbox_relay() == 0

    assert len(fake_sms.sent) == 1


def test_a_send_whose_worker_died_becomes_unknown_and_is_never_resent(consenting, fake_sms):
    message = sms_send(patient=consenting, body="Hello")
    # A worker claimed it and died before recording the outcome.
    Message.objects.filter(pk=message.pk).update(
        status="sending", attempts=1, lease_until=timezone.now() - timedelta(seconds=1)
    )

    assert outbox_sweep() == 1
    assert outbox_relay() == 0
    assert outbox_deliver(message_id=message.pk) == "skipped"

    message.refresh_from_db()
    assert message.status == "unknown"
    assert fake_sms.sent == []


def test_a_live_send_is_not_swept(consenting):
    message = sms_send(patient=consenting, body="Hello")
    Message.objects.filter(pk=message.pk).update(
        status="sending", lease_until=timezone.now() + timedelta(minutes=5)
    )

    assert outbox_sweep() == 0


def test_a_row_whose_hand_off_was_lost_is_sent_by_the_relay(consenting, fake_sms):
    # Written and committed, but the broker never got the task (no on_commit run here).
    message = sms_send(patient=consenting, body="Hello")

    assert outbox_relay() == 1

    message.refresh_from_db()
    assert message.status == "sent"
    assert fake_sms.refs() == {str(message.pk): 1}


def test_each_sent_message_is_one_disclose_event_for_its_patient(
    consenting, fake_sms, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = sms_send(patient=consenting, body="Your results are in")

    event = AuditEvent.objects.get(action="disclose")
    assert (event.patient_id, event.object_type, event.object_id) == (
        consenting.pk,
        "integrations.message",
        str(message.pk),
    )
    assert event.detail["channel"] == "sms"
    assert "results" not in str(event.detail)


def test_without_an_account_the_console_records_the_send(
    consenting, settings, django_capture_on_commit_callbacks
):
    settings.SMSBROADCAST_USERNAME = ""

    with django_capture_on_commit_callbacks(execute=True):
        message = sms_send(patient=consenting, body="Hello")

    message.refresh_from_db()
    assert (message.status, message.provider_ref) == ("sent", f"console-{message.pk}")


def test_consent_withdrawn_after_queueing_stops_the_send(consenting, fake_sms):
    message = sms_send(patient=consenting, body="Hello")
    consenting.sms_consent = False
    consenting.save()

    assert outbox_deliver(message_id=message.pk) == "failed"

    message.refresh_from_db()
    assert "withdrawn SMS consent" in message.last_error
    assert fake_sms.sent == []


CODE = "Your booking code is 482913. It expires in 10 minutes."
NEW_KEY = "pfHQQjJ2GQ7ySGvnqd2nXffTr3FSgIIZdlxsfFZLfUI="


def test_a_verification_code_reaches_the_phone_and_no_reader_of_the_outbox(
    fake_sms, reception_api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = sms_send_to_number(to="+61412345678", body=CODE)

    message.refresh_from_db()
    assert message.status == "sent"
    assert [sent["message"] for sent in fake_sms.sent] == [CODE]
    assert "482913" not in message.body  # the row holds it encrypted
    page = signed_in("reception").get("/messages/").content.decode()
    assert "482913" not in page and Message.SEALED_SHOWN in page
    listed = reception_api.get("/api/v1/messages/").json()["results"]
    assert [m["body"] for m in listed] == [Message.SEALED_SHOWN]


def test_a_code_whose_key_was_removed_fails_without_sending(settings, fake_sms):
    message = sms_send_to_number(to="+61412345678", body=CODE)
    old_keys = settings.NEXUS_ENCRYPTION_KEYS
    settings.NEXUS_ENCRYPTION_KEYS = [NEW_KEY]
    crypto.reset_keys()
    try:
        outcome = outbox_deliver(message_id=message.pk)
    finally:
        settings.NEXUS_ENCRYPTION_KEYS = old_keys
        crypto.reset_keys()

    message.refresh_from_db()
    assert (outcome, message.status) == ("failed", "failed")
    assert "NEXUS_ENCRYPTION_KEYS" in message.last_error
    assert fake_sms.sent == []


def test_rotating_keys_keeps_a_queued_code_sendable(settings, fake_sms):
    message = sms_send_to_number(to="+61412345678", body=CODE)
    old_keys = settings.NEXUS_ENCRYPTION_KEYS
    settings.NEXUS_ENCRYPTION_KEYS = [NEW_KEY, *old_keys]
    crypto.reset_keys()
    try:
        call_command("rotate_encryption_keys", stdout=StringIO())
        settings.NEXUS_ENCRYPTION_KEYS = [NEW_KEY]  # the old key is gone
        crypto.reset_keys()
        assert outbox_deliver(message_id=message.pk) == "sent"
    finally:
        settings.NEXUS_ENCRYPTION_KEYS = old_keys
        crypto.reset_keys()

    assert [sent["message"] for sent in fake_sms.sent] == [CODE]
