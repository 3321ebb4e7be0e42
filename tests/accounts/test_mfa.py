"""Second factor (allauth MFA, TOTP + recovery codes): mandatory for practice admins,
enrolment before any patient data, codes limited and audited, secrets encrypted."""

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY
from django.core.management import call_command
from django.db import connection
from django.test import Client

from audit.models import AuditEvent
from nexus import crypto
from tests.conftest import totp_code
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def stored_secret(user) -> str:
    return crypto.decrypt(Authenticator.objects.get(user=user, type="totp").data["secret"])


def password_sign_in(client: Client, user):
    return client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})


def enrol_totp(client: Client) -> str:
    """Set up TOTP as a user would straight after signing in: scan, type a code. (The
    password was just typed to sign in, so it is not asked for a second time.)"""
    assert client.get("/accounts/2fa/totp/activate/").status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    assert (
        client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)}).status_code == 302
    )
    return secret


def test_an_admin_without_a_second_factor_sees_no_patient_data_until_enrolled(
    client, patient, django_capture_on_commit_callbacks
):
    admin = UserFactory(role="practice_admin", totp=False)
    assert password_sign_in(client, admin).status_code == 302

    api = client.get("/api/v1/patients/")
    page = client.get("/audit/")
    assert api.status_code == 403
    assert api.json()["code"] == "mfa_required"
    assert page.status_code == 302
    assert page["Location"] == "/accounts/2fa/totp/activate/"
    # Nothing was shown; the refusal itself is on record.
    assert not AuditEvent.objects.filter(action="read", outcome="success").exists()
    assert AuditEvent.objects.filter(action="read", outcome="denied").exists()

    with django_capture_on_commit_callbacks(execute=True):  # allauth signals after commit
        enrol_totp(client)

    assert client.get("/api/v1/patients/").status_code == 200
    change = AuditEvent.objects.get(action="mfa_change", detail__factor="totp")
    assert (change.object_id, change.detail["change"]) == (str(admin.pk), "added")
    # Recovery codes came with it, for the day the phone is lost.
    assert Authenticator.objects.filter(user=admin, type="recovery_codes").exists()


def test_other_roles_need_no_second_factor_unless_the_setting_says_so(client, settings, patient):
    reception = UserFactory(role="reception")
    password_sign_in(client, reception)
    assert client.get("/api/v1/patients/").status_code == 200

    settings.NEXUS_MFA_REQUIRED_FOR_ALL = True
    other = Client()
    password_sign_in(other, reception)
    assert other.get("/api/v1/patients/").status_code == 403


def test_an_enrolled_user_signs_in_with_password_then_code(client):
    admin = UserFactory(role="practice_admin")
    secret = stored_secret(admin)

    first = password_sign_in(client, admin)
    assert first["Location"] == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in client.session  # the password alone is not enough

    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200
    assert "_auth_user_id" not in client.session
    failure = AuditEvent.objects.get(action="login_failed", detail__reason="incorrect_code")
    assert failure.object_id == str(admin.pk)

    right = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert right.status_code == 302
    assert client.session["_auth_user_id"] == str(admin.pk)


def test_a_recovery_code_replaces_a_lost_phone_once(client):
    admin = UserFactory(role="practice_admin")
    code = RecoveryCodes.activate(admin).get_unused_codes()[0]

    password_sign_in(client, admin)
    assert client.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 302

    again = Client()
    password_sign_in(again, admin)
    assert again.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 200
    assert "_auth_user_id" not in again.session


def test_guessing_codes_is_cut_off_and_every_guess_is_audited(client):
    admin = UserFactory(role="practice_admin")
    secret = stored_secret(admin)
    password_sign_in(client, admin)

    for _ in range(6):
        client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    blocked = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})

    assert blocked.status_code == 200
    assert b"Too many failed" in blocked.content
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="login_failed", object_id=str(admin.pk)).count() >= 5


def test_totp_secrets_are_stored_encrypted(client):
    admin = UserFactory(role="practice_admin", totp=False)
    password_sign_in(client, admin)
    secret = enrol_totp(client)

    table = Authenticator._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT data FROM {table} WHERE type = 'totp'")  # noqa: S608
        raw = str(cursor.fetchone()[0])

    assert secret not in raw
    assert crypto.PREFIX in raw
    assert stored_secret(admin) == secret


def test_rotating_keys_keeps_every_secret_readable(settings):
    users = [UserFactory(role="practice_admin") for _ in range(3)]
    secrets_before = [stored_secret(user) for user in users]
    old_key = settings.NEXUS_ENCRYPTION_KEYS[0]
    new_key = "pfHQQjJ2GQ7ySGvnqd2nXffTr3FSgIIZdlxsfFZLfUI="

    settings.NEXUS_ENCRYPTION_KEYS = [new_key, old_key]
    crypto.reset_keys()
    call_command("rotate_encryption_keys")
    settings.NEXUS_ENCRYPTION_KEYS = [new_key]  # the old key is gone
    crypto.reset_keys()
    try:
        assert [stored_secret(user) for user in users] == secrets_before
        # And the stored values really changed key: the old key alone cannot read them.
        settings.NEXUS_ENCRYPTION_KEYS = [old_key]
        crypto.reset_keys()
        with pytest.raises(ValueError, match="No configured key"):
            stored_secret(users[0])
    finally:
        settings.NEXUS_ENCRYPTION_KEYS = [old_key]
        crypto.reset_keys()


def signed_in_with_code(client: Client, user) -> None:
    password_sign_in(client, user)
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(stored_secret(user))})
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})  # recent, for changes
    assert client.session["_auth_user_id"] == str(user.pk)


def test_someone_who_may_go_without_a_second_factor_can_remove_it_on_the_record(
    client, django_capture_on_commit_callbacks
):
    clinician = UserFactory(role="clinician", totp=True)
    signed_in_with_code(client, clinician)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/2fa/totp/deactivate/")

    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=clinician, type="totp").exists()
    change = AuditEvent.objects.get(action="mfa_change", detail__change="removed")
    assert change.object_id == str(clinician.pk)


def test_a_practice_admin_cannot_remove_their_second_factor(client):
    admin = UserFactory(role="practice_admin")
    signed_in_with_code(client, admin)

    response = client.post("/accounts/2fa/totp/deactivate/")

    assert response.status_code == 200  # the form, with the reason
    assert Authenticator.objects.filter(user=admin, type="totp").exists()
    assert client.get("/").status_code == 200


def test_a_new_practice_admin_types_their_password_once_at_first_sign_in(client):
    admin = UserFactory(role="practice_admin", totp=False)
    signed_in = password_sign_in(client, admin)

    # Straight to the authenticator app set-up, not to "confirm your password".
    page = client.get(signed_in["Location"], follow=True)

    assert page.redirect_chain[-1][0] == "/accounts/2fa/totp/activate/"
    assert page.status_code == 200
    assert SECRET_SESSION_KEY in client.session


def test_changing_a_factor_later_still_asks_for_the_password(client, settings):
    clinician = UserFactory(role="clinician", totp=False)
    password_sign_in(client, clinician)
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 0  # the sign-in is no longer recent

    start = client.get("/accounts/2fa/totp/activate/")

    assert start["Location"].startswith("/accounts/reauthenticate/")


def test_replacing_an_existing_factor_still_asks_for_the_password(client):
    clinician = UserFactory(role="clinician", totp=True)
    password_sign_in(client, clinician)
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(stored_secret(clinician))})

    response = client.post("/accounts/2fa/totp/deactivate/")

    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert Authenticator.objects.filter(user=clinician, type="totp").exists()


def test_the_recovery_codes_page_continues_to_where_the_admin_was_going(
    client, patient, django_capture_on_commit_callbacks
):
    admin = UserFactory(role="practice_admin", totp=False)
    password_sign_in(client, admin)
    assert client.get("/patients/")["Location"] == "/accounts/2fa/totp/activate/"

    with django_capture_on_commit_callbacks(execute=True):
        secret = client.get("/accounts/2fa/totp/activate/") and client.session[SECRET_SESSION_KEY]
        done = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)})
    codes = client.get(done["Location"])

    assert done["Location"] == "/accounts/2fa/recovery-codes/"
    assert codes.status_code == 200
    assert b'href="/patients/">Continue to Nexus</a>' in codes.content
    assert client.get("/patients/").status_code == 200
