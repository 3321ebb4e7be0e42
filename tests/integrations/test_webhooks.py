"""SMS Broadcast's webhooks: replies (YES, no, Stop, a question, an unknown number) and
delivery receipts; a wrong secret is 404; a repeated webhook changes nothing."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from appointments.models import Appointment
from audit.models import AuditEvent
from integrations.models import InboundMessage, Message
from tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db
SECRET = "s3cret-webhook-token-0123456789abcdef"
INBOUND = f"/webhooks/sms/inbound/{SECRET}/"
STATUS = f"/webhooks/sms/status/{SECRET}/"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.NEXUS_SMS_WEBHOOK_SECRET = SECRET


@pytest.fixture
def reminded(db):
    """An appointment tomorrow whose reminder went out; the patient's mobile is 0412 345 678."""
    patient = PatientFactory(phone="+61412345678", sms_consent=True)
    appointment = AppointmentFactory(patient=patient, start=timezone.now() + timedelta(days=1))
    reminder = Message.objects.create(
        kind="reminder",
        to="+61412345678",
        body="Reminder",
        patient=patient,
        appointment=appointment,
        status="sent",
        provider_ref="2942263",
    )
    return appointment, reminder


def reply(message: str, *, sender="61412345678", ref="", method="get"):
    params = {"to": "61400000000", "from": sender, "message": message, "extra": "ignored"}
    if ref:
        params["ref"] = ref
    return getattr(Client(), method)(INBOUND, params)


def test_yes_confirms_the_reminded_appointment_matched_by_ref(reminded):
    appointment, reminder = reminded

    response = reply(" yes ", ref=str(reminder.pk))

    assert (response.status_code, response.content) == (200, b"OK")
    appointment.refresh_from_db()
    assert appointment.status == "confirmed"
    inbound = InboundMessage.objects.get()
    assert (inbound.outcome, inbound.appointment, inbound.in_reply_to) == (
        "confirmed",
        appointment,
        reminder,
    )


def test_y_by_post_without_ref_matches_by_number(reminded):
    appointment, _ = reminded

    assert reply("Y", method="post").status_code == 200

    appointment.refresh_from_db()
    assert appointment.status == "confirmed"


def test_no_cancels_and_frees_the_slot_without_texting_back(reminded):
    appointment, reminder = reminded

    reply("no", ref=str(reminder.pk))

    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancellation_reason) == (
        "cancelled",
        "Cancelled by SMS reply",
    )
    assert not Message.objects.filter(kind="cancelled").exists()


def test_the_same_reply_twice_changes_nothing_the_second_time(reminded):
    _, reminder = reminded
    reply("NO", ref=str(reminder.pk))
    events = AuditEvent.objects.count()

    assert reply("NO", ref=str(reminder.pk)).status_code == 200

    assert InboundMessage.objects.count() == 1
    assert AuditEvent.objects.count() == events
    assert Message.objects.count() == 1


def test_stop_withdraws_sms_consent(reminded):
    appointment, _ = reminded

    reply("Stop")

    appointment.patient.refresh_from_db()
    assert appointment.patient.sms_consent is False
    assert InboundMessage.objects.get().outcome == "stopped"
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_a_question_lands_in_the_inbox(reminded):
    appointment, _ = reminded

    reply("what time?")

    inbound = InboundMessage.objects.get()
    assert (inbound.outcome, inbound.patient, inbound.body) == (
        "inbox",
        appointment.patient,
        "what time?",
    )
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_an_unknown_number_lands_in_the_inbox(reminded):
    appointment, _ = reminded

    assert reply("YES", sender="61499999999").status_code == 200

    inbound = InboundMessage.objects.get()
    assert (inbound.outcome, inbound.patient, inbound.from_number) == (
        "inbox",
        None,
        "+61499999999",
    )
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_a_ref_sent_to_another_number_is_not_trusted(reminded):
    appointment, reminder = reminded

    reply("NO", sender="61499999999", ref=str(reminder.pk))

    appointment.refresh_from_db()
    assert appointment.status == "booked"
    assert InboundMessage.objects.get().outcome == "inbox"


@pytest.mark.parametrize("url", ["/webhooks/sms/inbound/wrong/", "/webhooks/sms/status/wrong/"])
def test_a_wrong_secret_is_404_and_only_an_audit_event(reminded, url):
    appointment, reminder = reminded

    response = Client().get(url, {"from": "61412345678", "message": "NO", "ref": reminder.pk})

    assert response.status_code == 404
    assert not InboundMessage.objects.exists()
    appointment.refresh_from_db()
    assert appointment.status == "booked"
    event = AuditEvent.objects.get()
    assert (event.outcome, event.detail["reason"]) == ("failure", "wrong_secret")
    assert "61412345678" not in str(event.detail)


def test_no_secret_configured_refuses_everything(reminded, settings):
    settings.NEXUS_SMS_WEBHOOK_SECRET = ""
    assert Client().get("/webhooks/sms/inbound/x/", {"message": "YES"}).status_code == 404


def test_receipts_move_messages_to_delivered_or_failed(reminded):
    _, reminder = reminded

    response = Client().get(
        STATUS,
        {"to": "61412345678", "ref": reminder.pk, "smsref": "2942263", "status": "Delivered"},
    )

    assert (response.status_code, response.content) == (200, b"OK")
    reminder.refresh_from_db()
    assert (reminder.status, reminder.provider_status) == ("delivered", "Delivered")
    assert reminder.delivered_at is not None

    other = Message.objects.create(kind="adhoc", to="+61412345678", body="x", status="sent")
    Client().get(STATUS, {"ref": other.pk, "status": "Expired"})
    other.refresh_from_db()
    assert other.status == "failed"


def test_an_unknown_status_is_kept_but_changes_nothing(reminded):
    _, reminder = reminded

    Client().post(STATUS, {"ref": reminder.pk, "status": "Queued at carrier"})

    reminder.refresh_from_db()
    assert (reminder.status, reminder.provider_status) == ("sent", "Queued at carrier")


def test_a_receipt_matches_by_smsref_when_the_ref_is_missing(reminded):
    _, reminder = reminded

    Client().get(STATUS, {"smsref": "2942263", "status": "Delivered"})

    reminder.refresh_from_db()
    assert reminder.status == "delivered"


def test_a_repeated_receipt_changes_nothing(reminded):
    _, reminder = reminded
    Client().get(STATUS, {"ref": reminder.pk, "status": "Delivered"})
    reminder.refresh_from_db()
    first = (reminder.delivered_at, AuditEvent.objects.count())

    Client().get(STATUS, {"ref": reminder.pk, "status": "Delivered"})

    reminder.refresh_from_db()
    assert (reminder.delivered_at, AuditEvent.objects.count()) == first


def test_receipts_for_unknown_refs_are_accepted_and_ignored(db):
    assert Client().get(STATUS, {"ref": "abc", "status": "Delivered"}).status_code == 200
    assert Client().get(STATUS, {}).status_code == 200


def test_the_appointment_cancelled_by_reply_frees_its_slot(reminded):
    appointment, reminder = reminded
    reply("n", ref=str(reminder.pk))

    assert not Appointment.objects.filter(
        pk=appointment.pk, status__in=Appointment.ACTIVE_STATUSES
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_the_fake_provider_calls_back_receipts_and_replies(live_server, fake_sms, settings):
    from integrations.services import sms_send

    settings.NEXUS_SMS_WEBHOOK_SECRET = SECRET
    patient = PatientFactory(phone="+61412345678", sms_consent=True)
    appointment = AppointmentFactory(patient=patient, start=timezone.now() + timedelta(days=1))
    message = sms_send(patient=patient, body="Reminder", kind="reminder", appointment=appointment)
    # transaction=True: committed, so the after-commit send has run.
    message.refresh_from_db()
    assert message.status == "sent"
    sent = fake_sms.sent[0]

    answer = fake_sms.call_status(
        live_server.url + STATUS,
        ref=sent["ref"],
        status="Delivered",
        to=sent["to"],
        smsref=sent["smsref"],
    )
    assert answer == "OK"
    message.refresh_from_db()
    assert message.status == "delivered"

    assert (
        fake_sms.call_inbound(
            live_server.url + INBOUND, sender=sent["to"], message="Yes", ref=sent["ref"]
        )
        == "OK"
    )
    appointment.refresh_from_db()
    assert appointment.status == "confirmed"
