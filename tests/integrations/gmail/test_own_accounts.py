"""Clinicians connect their own Gmail account: only they send from it; clinic accounts
(connected by a practice admin) are for everyone who may email."""

import pytest
from django.test import Client

from audit.models import AuditEvent
from integrations.gmail.services import email_sending_account, gmail_set_defaults
from integrations.models import Message, OAuthConnection
from nexus.errors import ValidationFailed
from tests.conftest import _client
from tests.factories import ClinicFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

OWN = "dr.lee@gmail.example"
CLINIC = "reception@clinic.example"


def _browser(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.fixture
def lee(db):
    return UserFactory(role="clinician", full_name="Dr Lee")


@pytest.fixture
def accounts(lee, connect, sign_in_at_google):
    """A clinic account (connected by an admin) and Dr Lee's own (connected by Dr Lee)."""
    clinic = connect(CLINIC)
    sign_in_at_google(_browser(lee), OWN)
    return clinic, OAuthConnection.objects.get(account_id=OWN)


def _email(api, patient, account):
    return api.post(
        f"/api/v1/patients/{patient.pk}/emails/",
        {"account": account.pk, "to": "patient", "subject": "Hi", "body": "Hello"},
        format="json",
    )


def test_a_clinician_connects_their_own_account_and_it_is_audited(lee, accounts, fake_gmail):
    clinic, own = accounts

    assert clinic.owner_id is None
    assert own.owner_id == lee.pk
    assert own.status == OAuthConnection.Status.CONNECTED
    assert own.connected_by_id == lee.pk
    event = AuditEvent.objects.get(object_id=str(own.pk), detail__view="gmail_connect")
    assert event.actor_id == lee.pk
    assert event.detail["personal"] is True


def test_a_clinician_connects_one_account_of_their_own(lee, accounts, fake_gmail):
    browser = _browser(lee)

    # While theirs is connected, Nexus does not send them to Google at all
    again = browser.get("/gmail/connect/")

    assert again.status_code == 302
    assert again["Location"] == "/gmail/"
    assert OAuthConnection.objects.filter(owner=lee).count() == 1


def test_a_clinician_cannot_take_over_a_clinic_account(lee, accounts, sign_in_at_google):
    clinic, _own = accounts
    other = UserFactory(role="clinician")

    sign_in_at_google(_browser(other), CLINIC)

    clinic.refresh_from_db()
    assert clinic.owner_id is None
    assert clinic.connected_by_id != other.pk
    assert not OAuthConnection.objects.filter(owner=other).exists()


def test_only_the_owner_sends_from_their_own_account(lee, accounts, fake_gmail, committed):
    clinic, own = accounts
    patient = PatientFactory(email="ada@example.com", email_consent=True)
    admin = UserFactory(role="practice_admin")
    colleague = UserFactory(role="clinician")
    reception = UserFactory(role="reception")

    with committed():
        mine = _email(_client(lee), patient, own)
    refused = [_email(_client(u), patient, own) for u in (colleague, reception, admin)]
    with committed():
        shared = _email(_client(reception), patient, clinic)

    assert mine.status_code == 202
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert all(r.json()["code"] == "permission_denied" for r in refused)
    assert shared.status_code == 202
    assert Message.objects.count() == 2
    assert sorted(s.account for s in fake_gmail.sent) == sorted([OWN, CLINIC])


def test_the_account_list_shows_ownership_and_only_usable_accounts(lee, accounts):
    _clinic, _own = accounts
    colleague = UserFactory(role="clinician")

    for_lee = {a["email"]: a for a in _client(lee).get("/api/v1/email-accounts/").json()}
    for_colleague = _client(colleague).get("/api/v1/email-accounts/").json()
    for_admin = {
        a["email"]: a
        for a in _client(UserFactory(role="practice_admin")).get("/api/v1/email-accounts/").json()
    }

    assert for_lee[OWN]["owner"] == lee.pk and for_lee[OWN]["shared"] is False
    assert for_lee[OWN]["can_send"] is True
    assert for_lee[CLINIC]["owner"] is None and for_lee[CLINIC]["shared"] is True
    assert [a["email"] for a in for_colleague] == [CLINIC]
    assert set(for_admin) == {OWN, CLINIC}
    assert for_admin[OWN]["can_send"] is False and for_admin[CLINIC]["can_send"] is True


def test_the_compose_form_offers_only_usable_accounts_and_refuses_others(lee, accounts):
    _clinic, own = accounts
    patient = PatientFactory(email="ada@example.com", email_consent=True)
    colleague = _browser(UserFactory(role="clinician"))

    panel = colleague.get(f"/gmail/patient/{patient.pk}/").content.decode()
    posted = colleague.post(
        f"/gmail/patient/{patient.pk}/",
        {"email-account": own.pk, "email-to": "patient", "email-subject": "Hi", "email-body": "B"},
        HTTP_HX_REQUEST="true",
    )
    lees = _browser(lee).get(f"/gmail/patient/{patient.pk}/").content.decode()

    assert CLINIC in panel and OWN not in panel
    assert posted.status_code == 200
    assert "Select a valid choice" in posted.content.decode()
    assert not Message.objects.exists()
    assert OWN in lees and CLINIC in lees


def test_settings_show_a_clinician_their_own_and_the_clinics_accounts(lee, accounts):
    colleague = _browser(UserFactory(role="clinician"))

    theirs = colleague.get("/gmail/").content.decode()
    lees = _browser(lee).get("/gmail/").content.decode()

    assert CLINIC in theirs and OWN not in theirs
    assert "Connect your own Gmail account" in theirs
    assert OWN in lees and CLINIC in lees and "Connect your own" not in lees


def test_disconnecting_an_own_account_is_for_its_owner_or_an_admin(lee, accounts, fake_gmail):
    clinic, own = accounts
    colleague = _browser(UserFactory(role="clinician"))

    refused = [
        colleague.post(f"/gmail/{own.pk}/disconnect/"),
        _browser(lee).post(f"/gmail/{clinic.pk}/disconnect/"),
    ]
    done = _browser(lee).post(f"/gmail/{own.pk}/disconnect/")

    assert [r.status_code for r in refused] == [403, 403]
    assert done.status_code == 302
    own.refresh_from_db()
    clinic.refresh_from_db()
    assert own.status == OAuthConnection.Status.DISCONNECTED
    assert clinic.status == OAuthConnection.Status.CONNECTED
    assert fake_gmail.revoked == [OWN]
    event = AuditEvent.objects.get(object_id=str(own.pk), detail__view="gmail_disconnect")
    assert event.actor_id == lee.pk and event.detail["personal"] is True


def test_an_admin_can_disconnect_a_clinicians_own_account(lee, accounts, admin_browser):
    _, own = accounts

    assert admin_browser.post(f"/gmail/{own.pk}/disconnect/").status_code == 302
    own.refresh_from_db()
    assert own.status == OAuthConnection.Status.DISCONNECTED


def test_reminders_and_clinic_defaults_never_use_an_own_account(lee, accounts, admin_browser):
    clinic, own = accounts
    parramatta = ClinicFactory(name="Parramatta")
    patient = PatientFactory(email="ada@example.com", email_consent=True, home_clinic=parramatta)

    with pytest.raises(ValidationFailed):
        gmail_set_defaults(connection=own, clinic_ids=[parramatta.pk])
    refused = admin_browser.post(f"/gmail/{own.pk}/defaults/", {"clinics": [parramatta.pk]})

    assert refused.status_code == 302
    assert not own.default_for.exists()
    # With no account chosen and no user (an appointment reminder): the clinic account,
    # though two accounts are connected.
    assert email_sending_account(account_id=None, patient=patient) == clinic
    # Dr Lee, choosing nothing, has two to choose from.
    with pytest.raises(ValidationFailed):
        email_sending_account(account_id=None, patient=patient, user=lee)
