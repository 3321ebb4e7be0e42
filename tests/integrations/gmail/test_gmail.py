"""Email from the clinic's Gmail accounts: connect, send through the outbox, refresh."""

import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib import admin
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection as db_connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from integrations.gmail.services import email_send
from integrations.models import Message, OAuthConnection
from integrations.oauth import oauth_tokens
from integrations.outbox import outbox_deliver
from nexus.logging import build_formatter
from tests.conftest import requires_postgres
from tests.factories import (
    CoordinatorFactory,
    DocumentFactory,
    PatientFactory,
    ReferrerFactory,
    UserFactory,
)
from tests.fakes.gmail import SEND_SCOPE

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n% a report, not patient data\n%%EOF\n"


def _document(patient, data: bytes = PDF, name: str = "assessment.pdf"):
    key = default_storage.save(f"patients/{patient.pk}/test-{name}", ContentFile(data))
    return DocumentFactory(patient=patient, file=key, size=len(data), original_name=name)


def _expire(account: OAuthConnection) -> None:
    OAuthConnection.objects.filter(pk=account.pk).update(
        expires_at=timezone.now() - timedelta(seconds=5)
    )


# --- connecting ----------------------------------------------------------------------


def test_connect_redirects_to_google_with_the_contracted_parameters(admin_browser, fake_gmail):
    response = admin_browser.get("/gmail/connect/")

    assert response.status_code == 302
    target = urlparse(response["Location"])
    assert (
        f"{target.scheme}://{target.netloc}{target.path}"
        == fake_gmail.settings()["GOOGLE_AUTH_URI"]
    )
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert query["client_id"] == fake_gmail.settings()["GOOGLE_OAUTH_CLIENT_ID"]
    assert query["redirect_uri"].endswith("/gmail/oauth/callback/")
    assert SEND_SCOPE in query["scope"].split()
    assert query["access_type"] == "offline"
    assert query["prompt"] == "consent"
    assert len(query["state"]) > 20


def test_two_accounts_connect_and_are_listed_without_tokens(
    admin_browser, fake_gmail, admin_api, connect, committed
):
    reception = connect("reception@clinic.example")
    clinician = connect("dr.lee@clinic.example")

    listed = admin_api.get("/api/v1/email-accounts/")

    assert listed.status_code == 200
    assert {(a["id"], a["email"], a["status"]) for a in listed.json()} == {
        (reception.pk, "reception@clinic.example", "connected"),
        (clinician.pk, "dr.lee@clinic.example", "connected"),
    }
    tokens = oauth_tokens(reception)
    assert tokens.refresh_token.startswith("1//")
    # Encrypted at rest, and nowhere in the API or the audit trail.
    assert tokens.refresh_token not in reception.refresh_token
    assert tokens.refresh_token not in listed.content.decode()
    trail = " ".join(str(e.detail) for e in AuditEvent.objects.all())
    assert tokens.refresh_token not in trail and tokens.access_token not in trail
    page = admin_browser.get("/gmail/")
    assert "dr.lee@clinic.example" in page.content.decode()
    assert tokens.refresh_token not in page.content.decode()


def test_a_callback_with_a_forged_state_connects_nothing(admin_browser, fake_gmail):
    admin_browser.get("/gmail/connect/")

    response = admin_browser.get("/gmail/oauth/callback/?code=4/x&state=forged")

    assert response.status_code == 302
    assert not OAuthConnection.objects.exists()


def test_disconnect_revokes_the_grant_and_keeps_the_row(
    admin_browser, fake_gmail, connect, committed
):
    account = connect("reception@clinic.example")

    response = admin_browser.post(f"/gmail/{account.pk}/disconnect/")

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.status == OAuthConnection.Status.DISCONNECTED
    assert fake_gmail.revoked == ["reception@clinic.example"]
    assert oauth_tokens(account).refresh_token == ""


def test_reception_cannot_connect_accounts(client, fake_gmail):
    client.force_login(UserFactory(role="reception"))

    assert client.get("/gmail/connect/").status_code == 403
    assert client.get("/gmail/").status_code == 403


# --- sending -------------------------------------------------------------------------


def test_an_email_from_each_account_reaches_gmail_as_rfc_2822_with_the_attachment(
    admin_browser, fake_gmail, reception_api, local_media, connect, committed
):
    reception = connect("reception@clinic.example")
    clinician = connect("dr.lee@clinic.example")
    patient = PatientFactory(email="ada@example.com", email_consent=True)
    patient.referrer = ReferrerFactory(email="gp@harbour.example")
    patient.save()
    report = _document(patient)

    with committed():
        first = reception_api.post(
            f"/api/v1/patients/{patient.pk}/emails/",
            {
                "account": reception.pk,
                "to": "patient",
                "subject": "Your assessment",
                "body": "Dear Ada,\nYour report is attached.",
                "documents": [report.pk],
            },
            format="json",
        )
    with committed():
        second = reception_api.post(
            f"/api/v1/patients/{patient.pk}/emails/",
            {"account": clinician.pk, "to": "referrer", "subject": "Re: Ada", "body": "Seen."},
            format="json",
        )

    assert first.status_code == 202, first.json()
    assert first.json()["channel"] == "email"
    assert second.status_code == 202
    assert Message.objects.get(pk=first.json()["id"]).status == Message.Status.SENT
    assert len(fake_gmail.sent) == 2
    to_patient, to_gp = (s.message for s in fake_gmail.sent)
    assert fake_gmail.sent[0].account == "reception@clinic.example"
    assert to_patient["From"] == "reception@clinic.example"
    assert to_patient["To"] == "ada@example.com"
    assert to_patient["Subject"] == "Your assessment"
    assert to_patient.get_body(("plain",)).get_content().strip() == (
        "Dear Ada,\nYour report is attached."
    )
    (attachment,) = to_patient.iter_attachments()
    assert attachment.get_filename() == "assessment.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF
    assert to_gp["From"] == "dr.lee@clinic.example"
    assert to_gp["To"] == "gp@harbour.example"
    # The disclosure is in the trail, naming the channel.
    assert (
        AuditEvent.objects.filter(
            action=AuditEvent.Action.DISCLOSE, detail__channel="email", patient_id=patient.pk
        ).count()
        == 2
    )
    listed = reception_api.get("/api/v1/messages/?channel=email")
    assert {m["id"] for m in listed.json()["results"]} == {first.json()["id"], second.json()["id"]}


def test_no_email_to_a_patient_without_email_consent(
    reception_api, fake_gmail, admin_browser, connect, committed
):
    account = connect("reception@clinic.example")
    patient = PatientFactory(email="ada@example.com", email_consent=False)

    for to in ("patient", "ada@example.com"):
        response = reception_api.post(
            f"/api/v1/patients/{patient.pk}/emails/",
            {"account": account.pk, "to": to, "subject": "Hi", "body": "Hello"},
            format="json",
        )
        assert response.status_code == 409
        assert response.json()["code"] == "email_no_consent"
    assert not Message.objects.exists()


def test_a_coordinator_without_an_address_is_refused(
    reception_api, fake_gmail, admin_browser, connect, committed
):
    account = connect("reception@clinic.example")
    patient = PatientFactory(coordinator=CoordinatorFactory(email=""))

    response = reception_api.post(
        f"/api/v1/patients/{patient.pk}/emails/",
        {"account": account.pk, "to": "coordinator", "subject": "Plan", "body": "Hello"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "email_no_address"
    assert not Message.objects.exists()


def test_attachments_over_the_gmail_limit_are_refused_before_queueing(
    reception_api, fake_gmail, admin_browser, settings, connect, committed
):
    account = connect("reception@clinic.example")
    patient = PatientFactory(email="ada@example.com", email_consent=True)
    big = DocumentFactory(patient=patient, size=settings.GMAIL_MAX_ATTACHMENT_BYTES + 1)

    response = reception_api.post(
        f"/api/v1/patients/{patient.pk}/emails/",
        {
            "account": account.pk,
            "to": "patient",
            "subject": "Scan",
            "body": "Attached",
            "documents": [big.pk],
        },
        format="json",
    )

    assert response.status_code == 400
    assert "documents" in response.json()["errors"]
    assert not Message.objects.exists()
    assert fake_gmail.sent == []


def test_another_patients_document_cannot_be_attached(
    reception_api, fake_gmail, admin_browser, connect, committed
):
    account = connect("reception@clinic.example")
    patient = PatientFactory(email="ada@example.com", email_consent=True)
    other = DocumentFactory(patient=PatientFactory())

    response = reception_api.post(
        f"/api/v1/patients/{patient.pk}/emails/",
        {
            "account": account.pk,
            "to": "patient",
            "subject": "S",
            "body": "B",
            "documents": [other.pk],
        },
        format="json",
    )

    assert response.status_code == 400
    assert not Message.objects.exists()


def test_without_a_google_client_the_console_records_the_email(reception_api, settings, committed):
    settings.GOOGLE_OAUTH_CLIENT_ID = ""
    patient = PatientFactory(email="ada@example.com", email_consent=True)

    with committed():
        response = reception_api.post(
            f"/api/v1/patients/{patient.pk}/emails/",
            {"to": "patient", "subject": "Hi", "body": "Hello"},
            format="json",
        )

    assert response.status_code == 202
    message = Message.objects.get()
    assert message.status == Message.Status.SENT
    assert message.provider_ref == f"console-{message.pk}"


# --- refresh -------------------------------------------------------------------------


def test_an_expired_access_token_is_refreshed_before_sending(
    admin_browser, fake_gmail, connect, committed
):
    account = connect("reception@clinic.example")
    _expire(account)
    patient = PatientFactory(email="ada@example.com", email_consent=True)

    with committed():
        message = email_send(
            patient=patient, to="patient", subject="Hi", body="Hello", account_id=account.pk
        )

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert fake_gmail.refreshes == 1
    account.refresh_from_db()
    assert account.refresh_count == 1


def test_a_revoked_grant_marks_reconnect_needed_and_holds_messages_until_reconnected(
    admin_browser, fake_gmail, reception_api, connect, committed
):
    account = connect("reception@clinic.example")
    fake_gmail.revoke_grant("reception@clinic.example")
    _expire(account)
    patient = PatientFactory(email="ada@example.com", email_consent=True)

    with committed():
        first = email_send(
            patient=patient, to="patient", subject="1", body="One", account_id=account.pk
        )

    account.refresh_from_db()
    assert account.status == OAuthConnection.Status.RECONNECT_NEEDED
    first.refresh_from_db()
    assert first.status == Message.Status.QUEUED
    assert first.next_attempt_at is None  # waits: not retried on a timer
    assert "connecting again" in first.last_error
    assert fake_gmail.sent == []
    listed = reception_api.get("/api/v1/email-accounts/").json()
    assert listed[0]["status"] == "reconnect_needed"
    # New email from it is refused up front, clearly
    refused = reception_api.post(
        f"/api/v1/patients/{patient.pk}/emails/",
        {"account": account.pk, "to": "patient", "subject": "2", "body": "Two"},
        format="json",
    )
    assert refused.status_code == 409

    # When the admin connects the account again, the waiting email goes out.
    connect("reception@clinic.example")

    first.refresh_from_db()
    assert first.status == Message.Status.SENT
    assert [s.message["Subject"] for s in fake_gmail.sent] == ["1"]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sends_with_an_expired_token_refresh_once(
    admin_browser, fake_gmail, connect, committed
):
    account = connect("reception@clinic.example")
    patient = PatientFactory(email="ada@example.com", email_consent=True)
    with pytest.MonkeyPatch.context() as patch:
        # Queue without delivering, then deliver from two workers at once.
        patch.setattr("integrations.outbox.outbox_schedule", lambda **kwargs: None)
        ids = [
            email_send(
                patient=patient, to="patient", subject=str(n), body="B", account_id=account.pk
            ).pk
            for n in range(2)
        ]
    _expire(account)
    fake_gmail.refresh_delay = 0.3  # long enough that the second worker arrives mid-refresh
    barrier = threading.Barrier(2)

    def work(message_id: int) -> str:
        try:
            barrier.wait()
            return outbox_deliver(message_id=message_id)
        finally:
            db_connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(work, ids))

    assert outcomes == ["sent", "sent"]
    assert fake_gmail.refreshes == 1
    assert len(fake_gmail.sent) == 2


def test_no_token_reaches_the_logs_or_the_admin(
    admin_browser, fake_gmail, reception_api, caplog, connect, committed
):
    caplog.set_level(logging.DEBUG)  # the Google libraries' and urllib3's chatter too
    account = connect("reception@clinic.example")
    _expire(account)
    patient = PatientFactory(email="ada@example.com", email_consent=True)
    with committed():
        sent = reception_api.post(
            f"/api/v1/patients/{patient.pk}/emails/",
            {"account": account.pk, "to": "patient", "subject": "Hi", "body": "Hello"},
            format="json",
        )
    assert sent.status_code == 202 and fake_gmail.refreshes == 1
    # Every token Google handed out: the first access token, the refreshed one, the grant.
    tokens = [*fake_gmail.grants, *fake_gmail.access]
    assert len(tokens) == 3
    admin_browser.post(f"/gmail/{account.pk}/disconnect/")
    assert fake_gmail.revoked == ["reception@clinic.example"]

    logged = "\n".join(build_formatter("json").format(record) for record in caplog.records)
    superuser = Client()
    superuser.force_login(UserFactory(is_staff=True, is_superuser=True))
    admin_pages = [superuser.get("/admin/")] + [
        superuser.get(reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist"))
        for m in admin.site._registry
    ]

    assert caplog.records, "the flow logged nothing: the check would prove nothing"
    assert [t for t in tokens if t in logged] == []
    assert all(page.status_code == 200 for page in admin_pages)
    assert [t for t in tokens for page in admin_pages if t in page.content.decode()] == []


# --- the staff pages -----------------------------------------------------------------


def test_setup_leads_a_practice_admin_to_email_accounts_and_xero(admin_browser):
    setup = admin_browser.get("/setup/users/").content.decode()

    assert '<a class="button" href="/gmail/">Email accounts</a>' in setup
    assert '<a class="button" href="/xero/">Xero</a>' in setup
    assert admin_browser.get("/gmail/").status_code == 200
    assert admin_browser.get("/xero/").status_code == 200


def test_a_clinician_writes_a_letter_to_the_referrer_and_emails_it_from_the_clinic_account(
    client, fake_gmail, connect, committed, local_media
):
    from notes.services import note_sign
    from tests.factories import ClinicalNoteFactory

    account = connect("reception@clinic.example")
    clinician = UserFactory(role="clinician")
    client.force_login(clinician)
    patient = PatientFactory(referrer=ReferrerFactory(name="Dr Hopper", email="gp@harbour.example"))
    note = note_sign(
        note=ClinicalNoteFactory(author=clinician, patient=patient, body="Orthoses fitted."),
        by=clinician,
    )

    # Write letter on the signed note: a PDF on the chart's documents
    page = client.get(f"/notes/{note.pk}/")
    assert "Write letter" in page.content.decode()
    written = client.post(f"/notes/{note.pk}/letter/", {"to": "referrer"})
    assert written.status_code == 302
    letter = patient.documents.get(category="letter")

    # Send email on the chart, from the clinic account, with the letter attached
    panel = client.get(f"/gmail/patient/{patient.pk}/")
    assert "Send email" in panel.content.decode()
    assert letter.original_name in panel.content.decode()
    with committed():
        sent = client.post(
            f"/gmail/patient/{patient.pk}/",
            {
                "email-account": account.pk,
                "email-to": "referrer",
                "email-subject": "Letter about your patient",
                "email-body": "Please find our letter attached.",
                "email-documents": [letter.pk],
            },
            HTTP_HX_REQUEST="true",
        )

    assert sent.status_code == 200
    message = Message.objects.get(channel="email")
    assert message.status == Message.Status.SENT
    (received,) = fake_gmail.sent
    assert received.message["To"] == "gp@harbour.example"
    (attachment,) = received.message.iter_attachments()
    assert attachment.get_filename() == letter.original_name
    with default_storage.open(letter.key, "rb") as stored:
        assert attachment.get_content() == stored.read()
    # And the chart shows it sent
    after = client.get(f"/gmail/patient/{patient.pk}/").content.decode()
    assert "Letter about your patient" in after and "Sent" in after


def test_the_chart_email_card_shows_the_reason_instead_of_sending_without_consent(
    client, fake_gmail, connect, committed
):
    account = connect("reception@clinic.example")
    client.force_login(UserFactory(role="reception"))
    patient = PatientFactory(email="ada@example.com", email_consent=False)

    response = client.post(
        f"/gmail/patient/{patient.pk}/",
        {
            "email-account": account.pk,
            "email-to": "patient",
            "email-subject": "Hi",
            "email-body": "Hello",
        },
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert "not agreed to receive email" in response.content.decode()
    assert not Message.objects.exists()


def test_an_email_without_an_account_goes_from_the_clinics_default(
    admin_browser, fake_gmail, connect, committed, reception_api
):
    from tests.factories import ClinicFactory

    connect("reception@clinic.example")
    parramatta = connect("parramatta@clinic.example")
    clinic = ClinicFactory(name="Parramatta")
    saved = admin_browser.post(f"/gmail/{parramatta.pk}/defaults/", {"clinics": [clinic.pk]})
    assert saved.status_code == 302
    patient = PatientFactory(email="ada@example.com", email_consent=True, home_clinic=clinic)
    elsewhere = PatientFactory(email="bo@example.com", email_consent=True)

    with committed():
        sent = reception_api.post(
            f"/api/v1/patients/{patient.pk}/emails/",
            {"to": "patient", "subject": "Hi", "body": "Hello"},
            format="json",
        )
    # Two accounts and no clinic default: the sender must choose.
    unclear = reception_api.post(
        f"/api/v1/patients/{elsewhere.pk}/emails/",
        {"to": "patient", "subject": "Hi", "body": "Hello"},
        format="json",
    )

    assert sent.status_code == 202
    assert [s.account for s in fake_gmail.sent] == ["parramatta@clinic.example"]
    assert unclear.status_code == 400
    listed = {a["email"]: a for a in reception_api.get("/api/v1/email-accounts/").json()}
    assert listed["parramatta@clinic.example"]["default_for"] == [clinic.pk]
    assert listed["reception@clinic.example"]["default_for"] == []


def test_a_just_written_letter_opens_the_email_card_addressed_and_attached(
    client, fake_gmail, connect, committed, local_media
):
    from notes.services import note_sign
    from tests.factories import ClinicalNoteFactory

    connect("reception@clinic.example")
    clinician = UserFactory(role="clinician")
    client.force_login(clinician)
    patient = PatientFactory(
        given_name="Ada",
        family_name="Lovelace",
        referrer=ReferrerFactory(name="Dr Hopper", email="gp@harbour.example"),
    )
    note = note_sign(
        note=ClinicalNoteFactory(author=clinician, patient=patient, body="Orthoses fitted."),
        by=clinician,
    )
    other = _document(PatientFactory(), name="someone-else.pdf")

    written = client.post(f"/notes/{note.pk}/letter/", {"to": "referrer"})
    letter = patient.documents.get(category="letter")
    chart = client.get(written["Location"].split("#")[0]).content.decode()
    panel = client.get(f"/gmail/patient/{patient.pk}/?letter={letter.pk}").content.decode()
    plain = client.get(f"/gmail/patient/{patient.pk}/").content.decode()
    foreign = client.get(f"/gmail/patient/{patient.pk}/?letter={other.pk}").content.decode()

    assert written["Location"] == f"/patients/{patient.pk}/?letter={letter.pk}#email-h"
    assert f"/gmail/patient/{patient.pk}/?letter={letter.pk}" in chart
    assert '<details class="email-compose" open>' in panel
    assert '<option value="referrer" selected>' in panel
    assert re.search(rf'value="{letter.pk}"[^>]*checked', panel)
    assert 'value="Letter about Ada Lovelace"' in panel
    assert "Please find attached our letter about Ada Lovelace." in panel
    assert '<details class="email-compose">' in plain and "Letter about" not in plain
    assert '<details class="email-compose">' in foreign and "Letter about" not in foreign
