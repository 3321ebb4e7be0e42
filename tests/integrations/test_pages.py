"""Staff pages: Messages (failures first, retry, mark handled), Inbox, Send SMS on the
chart, SMS lines on the appointment panel, and the templates admins edit."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from appointments.services import appointment_book
from audit.models import AuditEvent
from integrations.models import InboundMessage, Message, MessageTemplate
from tests.conftest import MONDAY, signed_in, sydney
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reception() -> Client:
    return signed_in("reception")


@pytest.fixture
def consenting(db):
    return PatientFactory(given_name="Ada", phone="+61412345678", sms_consent=True)


def test_messages_show_failures_first_and_retry_sends_them(
    reception, consenting, fake_sms, django_capture_on_commit_callbacks
):
    Message.objects.create(
        kind="adhoc", to="+61412345678", body="fine", patient=consenting, status="sent"
    )
    failed = Message.objects.create(
        kind="reminder",
        to="+61412345678",
        body="Reminder text",
        patient=consenting,
        status="failed",
        attempts=6,
        last_error="SMS Broadcast error: Insufficient credits",
    )

    page = reception.get("/messages/").content.decode()

    assert page.index(f'id="message-{failed.pk}"') < page.index("fine")
    assert "Insufficient credits" in page
    [shown] = AuditEvent.objects.filter(action="read", patient=consenting)
    assert len(shown.object_ids) == 2

    with django_capture_on_commit_callbacks(execute=True):
        response = reception.post(
            f"/messages/{failed.pk}/retry/", {"next": "/messages/?status=failed"}
        )

    assert response.status_code == 302
    assert response["Location"] == "/messages/?status=failed"
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("sent", 1)
    assert fake_sms.refs() == {str(failed.pk): 1}


def test_retry_refuses_a_message_that_went_out_and_ignores_foreign_next(reception, consenting):
    sent = Message.objects.create(
        kind="adhoc", to="+61412345678", body="x", patient=consenting, status="sent"
    )

    response = reception.post(f"/messages/{sent.pk}/retry/", {"next": "https://evil.example/"})

    assert response["Location"] == "/messages/"
    sent.refresh_from_db()
    assert sent.status == "sent"


def test_mark_handled_moves_an_unknown_message_down(reception, consenting):
    unknown = Message.objects.create(
        kind="adhoc", to="+61412345678", body="x", patient=consenting, status="unknown"
    )

    reception.post(f"/messages/{unknown.pk}/handled/")

    unknown.refresh_from_db()
    assert unknown.handled_at is not None
    assert not unknown.needs_attention


def test_messages_filter_by_status(reception, consenting):
    Message.objects.create(
        kind="adhoc", to="+61412345678", body="one-sent", patient=consenting, status="sent"
    )
    Message.objects.create(
        kind="adhoc", to="+61412345678", body="two-failed", patient=consenting, status="failed"
    )

    page = reception.get("/messages/", {"status": "failed"}).content.decode()

    assert "two-failed" in page
    assert "one-sent" not in page


def test_emails_are_listed_beside_texts_and_filter_by_channel(reception, consenting):
    Message.objects.create(
        kind="adhoc", to="+61412345678", body="by-text", patient=consenting, status="sent"
    )
    Message.objects.create(
        kind="adhoc",
        channel="email",
        to="ada@example.com",
        subject="Your report",
        body="by-email",
        patient=consenting,
        status="sent",
    )

    both = reception.get("/messages/").content.decode()
    emails = reception.get("/messages/", {"channel": "email"}).content.decode()
    texts = reception.get("/messages/", {"channel": "sms"}).content.decode()

    assert "by-text" in both and "by-email" in both
    assert '<span class="badge">Email</span>' in both and "Your report" in both
    assert "by-email" in emails and "by-text" not in emails
    assert "by-text" in texts and "by-email" not in texts


def test_send_sms_from_the_chart(
    reception, consenting, fake_sms, django_capture_on_commit_callbacks
):
    panel = reception.get(f"/messages/patient/{consenting.pk}/").content.decode()
    assert "Send SMS" in panel
    assert "data-sms-counter" in panel

    with django_capture_on_commit_callbacks(execute=True):
        response = reception.post(
            f"/messages/patient/{consenting.pk}/",
            {"body": "Your orthotics are ready to collect."},
            HTTP_HX_REQUEST="true",
        )

    assert response.status_code == 200
    assert "SMS queued" in response.content.decode()
    message = Message.objects.get()
    assert (message.kind, message.status) == ("adhoc", "sent")
    assert message.created_by is not None
    assert fake_sms.sent[0]["message"] == "Your orthotics are ready to collect."


def test_the_chart_says_why_a_patient_cannot_be_texted(reception):
    no_consent = PatientFactory(sms_consent=False)
    landline = PatientFactory(sms_consent=True, phone="+61298765432")

    assert "No SMS consent" in reception.get(f"/messages/patient/{no_consent.pk}/").content.decode()
    assert (
        "No Australian mobile"
        in reception.get(f"/messages/patient/{landline.pk}/").content.decode()
    )
    response = reception.post(
        f"/messages/patient/{no_consent.pk}/", {"body": "hi"}, HTTP_HX_REQUEST="true"
    )
    assert "not agreed to receive SMS" in response.content.decode()
    assert not Message.objects.exists()


def test_the_chart_loads_the_sms_card(reception, consenting):
    page = reception.get(f"/patients/{consenting.pk}/").content.decode()

    assert f'hx-get="/messages/patient/{consenting.pk}/"' in page


def test_the_appointment_panel_shows_reminded_and_confirmed_by_reply(reception, consenting):
    appointment = AppointmentFactory(patient=consenting, start=timezone.now() + timedelta(days=1))
    reminder = Message.objects.create(
        kind="reminder",
        to="+61412345678",
        body="x",
        patient=consenting,
        appointment=appointment,
        status="delivered",
    )
    InboundMessage.objects.create(
        from_number="+61412345678",
        body="YES",
        dedupe_key="k",
        patient=consenting,
        appointment=appointment,
        in_reply_to=reminder,
        outcome="confirmed",
    )

    html = reception.get(f"/messages/appointment/{appointment.pk}/").content.decode()

    assert "Reminder sent" in html
    assert "confirmed by SMS reply" in html
    assert (
        f'hx-get="/messages/appointment/{appointment.pk}/"'
        in reception.get(f"/calendar/appointments/{appointment.pk}/").content.decode()
    )


def test_the_inbox_lists_open_questions_and_marks_them_done(reception, consenting):
    appointment = AppointmentFactory(patient=consenting, start=timezone.now() + timedelta(days=1))
    question = InboundMessage.objects.create(
        from_number="+61412345678",
        body="what time?",
        dedupe_key="a",
        patient=consenting,
        appointment=appointment,
        outcome="inbox",
    )
    InboundMessage.objects.create(
        from_number="+61412345678",
        body="YES",
        dedupe_key="b",
        patient=consenting,
        outcome="confirmed",
    )

    page = reception.get("/messages/inbox/").content.decode()
    assert "what time?" in page
    assert "YES" not in page

    reception.post(f"/messages/inbox/{question.pk}/done/")

    assert "what time?" not in reception.get("/messages/inbox/").content.decode()
    assert "what time?" in reception.get("/messages/inbox/?all=1").content.decode()


def test_admins_edit_templates_and_bookings_use_them(
    practice, consenting, fake_sms, django_capture_on_commit_callbacks
):
    admin = signed_in("practice_admin")
    url = f"/messages/templates/?clinic={practice.clinic.pk}"
    assert "{reply_hint}" in admin.get(url).content.decode()

    bad = admin.post(url, {"clinic": practice.clinic.pk, "confirmation": "Hi {name}"})
    assert bad.status_code == 400
    assert "Unknown placeholder {name}" in bad.content.decode()
    assert not MessageTemplate.objects.exists()

    admin.post(
        url,
        {
            "clinic": practice.clinic.pk,
            "confirmation": "See you {date} at {time}, {patient}. {reply_hint}",
        },
    )
    assert MessageTemplate.objects.get().kind == "confirmation"

    with django_capture_on_commit_callbacks(execute=True):
        appointment_book(
            patient=consenting,
            clinician=practice.clinician,
            clinic=practice.clinic,
            appointment_type=practice.consult,
            start=sydney(MONDAY, 14, 30),
        )
    assert fake_sms.sent[0]["message"] == (
        "See you Mon 1 Mar at 2:30 pm, Ada. Reply YES to confirm or NO to cancel."
    )


def test_only_admins_edit_templates(reception):
    assert reception.get("/messages/templates/").status_code == 403


def test_people_without_a_role_see_no_messages(consenting):
    nobody = Client()
    nobody.force_login(UserFactory())
    assert nobody.get("/messages/").status_code == 403
    assert nobody.get(f"/messages/patient/{consenting.pk}/").status_code == 403
