"""Confirmations and reminders go by the patient's preferred channel: email when they
prefer it and may be emailed, SMS otherwise, both only when they asked for both."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import Message
from integrations.services import appointment_notify, reminders_send
from tests.factories import AppointmentFactory, PatientFactory


def _patient(**kw):
    defaults = {"sms_consent": True, "email_consent": True, "email": "pat@example.com"}
    return PatientFactory(**(defaults | kw))


def _soon(patient):
    return AppointmentFactory(patient=patient, start=timezone.now() + timedelta(hours=3))


def _channels(appointment, kind):
    return sorted(
        Message.objects.filter(appointment=appointment, kind=kind).values_list("channel", "to")
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("prefs", "expected"),
    [
        ({"reminder_channel": "sms"}, ["sms"]),
        ({"reminder_channel": "email"}, ["email"]),
        ({"reminder_channel": "both"}, ["email", "sms"]),
        ({"reminder_channel": "email", "email_consent": False}, ["sms"]),
        ({"reminder_channel": "email", "email": ""}, ["sms"]),
        ({"reminder_channel": "both", "sms_consent": False}, ["email"]),
        ({"reminder_channel": "email", "email_consent": False, "sms_consent": False}, []),
    ],
)
def test_reminders_follow_the_preference_once(prefs, expected, fake_sms):
    appointment = _soon(_patient(**prefs))

    reminders_send()
    reminders_send()

    sent = _channels(appointment, "reminder")
    assert [channel for channel, _ in sent] == expected
    for channel, to in sent:
        assert to == ("pat@example.com" if channel == "email" else str(appointment.patient.phone))
    email = Message.objects.filter(appointment=appointment, channel="email").first()
    if email is not None:
        assert email.subject == "Appointment reminder"
        assert "Reminder:" in email.body
        # Nobody reads email replies: the email asks for a call, the text for a YES.
        assert "Reply YES" not in email.body and "please call" in email.body
    text = Message.objects.filter(appointment=appointment, channel="sms").first()
    if text is not None:
        assert "Reply YES to confirm" in text.body


@pytest.mark.django_db
def test_a_confirmation_goes_by_email_when_preferred(fake_sms):
    appointment = _soon(_patient(reminder_channel="email"))
    Message.objects.all().delete()

    message = appointment_notify(appointment=appointment, kind="confirmation")

    assert message is not None and message.channel == "email"
    assert message.subject == "Your appointment is booked"
    assert _channels(appointment, "confirmation") == [("email", "pat@example.com")]


@pytest.mark.django_db
def test_the_preference_is_on_the_patient_api(reception_api):
    patient = _patient()
    url = f"/api/v1/patients/{patient.pk}/"
    assert reception_api.get(url).json()["reminder_channel"] == "sms"
    response = reception_api.patch(url, {"reminder_channel": "email"}, format="json")
    assert response.status_code == 200, response.content
    patient.refresh_from_db()
    assert patient.reminder_channel == "email"
    bad = reception_api.patch(url, {"reminder_channel": "fax"}, format="json")
    assert bad.status_code == 400
