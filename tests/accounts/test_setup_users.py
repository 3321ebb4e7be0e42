"""Practice admins manage staff accounts from /setup/users/ (issue 12 item 1): invite,
change role, deactivate and reactivate, reset a lost second factor; never set a password.
The rules are the services'; every change is on the record."""

import re

import pytest
from allauth.mfa.models import Authenticator
from django.core import mail
from django.test import Client

from accounts.models import ApiToken, User
from accounts.roles import CLINICIAN, PRACTICE_ADMIN, RECEPTION
from audit.models import AuditEvent
from tests.conftest import signed_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def superuser_client(db) -> Client:
    return signed_in(UserFactory(is_staff=True, is_superuser=True))


def roles_of(user: User) -> list[str]:
    return list(user.groups.values_list("name", flat=True))


def test_the_users_page_lists_everyone_with_role_and_second_factor(
    admin_client, admin_user, reception_user, django_assert_max_num_queries
):
    for _ in range(5):
        UserFactory(role=CLINICIAN)
    UserFactory(role=PRACTICE_ADMIN, totp=False, full_name="Unenrolled Admin")

    with django_assert_max_num_queries(12):  # flat: not one query per user
        response = admin_client.get("/setup/users/")

    assert response.status_code == 200
    html = response.content.decode()
    assert reception_user.email in html
    assert "Unenrolled Admin" in html
    assert "Not set up (required)" in html
    assert "Authenticator app" in html  # the admin's own


@pytest.mark.parametrize("role", [CLINICIAN, RECEPTION])
def test_other_roles_cannot_open_the_users_or_tokens_pages(role):
    client = signed_in(UserFactory(role=role))

    for path in ["/setup/users/", "/setup/users/invite/", "/setup/tokens/", "/setup/tokens/new/"]:
        assert client.get(path).status_code == 403, path


def test_a_practice_admin_invites_someone_who_chooses_their_own_password(admin_client, admin_user):
    response = admin_client.post(
        "/setup/users/invite/",
        {"email": "New.Starter@Clinic.example", "full_name": "New Starter", "role": RECEPTION},
    )

    assert response.status_code == 302
    user = User.objects.get(email="new.starter@clinic.example")
    assert not user.has_usable_password()
    assert roles_of(user) == [RECEPTION]
    assert re.search(r"/accounts/invitation/\S+", mail.outbox[0].body)
    event = AuditEvent.objects.get(action="invite")
    assert (event.object_id, event.actor_id) == (str(user.pk), admin_user.pk)


def test_an_invitation_to_a_taken_address_says_why(admin_client, reception_user):
    response = admin_client.post(
        "/setup/users/invite/",
        {"email": reception_user.email.upper(), "full_name": "Again", "role": RECEPTION},
    )

    assert response.status_code == 400
    assert b"already has an account" in response.content
    assert not mail.outbox


def test_the_staff_pages_offer_no_way_to_set_a_password(admin_client, reception_user):
    page = admin_client.get(f"/setup/users/{reception_user.pk}/").content.decode()

    assert 'type="password"' not in page
    assert "password1" not in page


def test_changing_a_role_is_audited_and_signs_them_out_everywhere(
    admin_client, admin_user, reception_user
):
    theirs = signed_in(reception_user)
    assert theirs.get("/").status_code == 200

    response = admin_client.post(f"/setup/users/{reception_user.pk}/role/", {"role": CLINICIAN})

    assert response.status_code == 302
    assert roles_of(reception_user) == [CLINICIAN]
    event = AuditEvent.objects.get(action="role_change")
    assert (event.actor_id, event.object_id) == (admin_user.pk, str(reception_user.pk))
    assert event.detail["before"]["roles"] == [RECEPTION]
    assert event.detail["after"]["roles"] == [CLINICIAN]
    assert theirs.get("/")["Location"].startswith("/accounts/login/")


def test_promoting_to_practice_admin_cannot_skip_the_second_factor(admin_client, reception_user):
    theirs = signed_in(reception_user)
    theirs.get("/")  # this session has met reception's (empty) second-factor rule

    admin_client.post(f"/setup/users/{reception_user.pk}/role/", {"role": PRACTICE_ADMIN})

    # Their old session is gone; a new one is sent to set up an authenticator app first.
    assert theirs.get("/")["Location"].startswith("/accounts/login/")
    reception_user.refresh_from_db()
    fresh = signed_in(reception_user)
    assert fresh.get("/")["Location"] == "/accounts/2fa/totp/activate/"


def test_the_last_practice_admin_cannot_be_demoted_or_deactivated(admin_user, superuser_client):
    # Even a superuser may not leave the practice without a practice admin.
    role = superuser_client.post(f"/setup/users/{admin_user.pk}/role/", {"role": RECEPTION})
    off = superuser_client.post(f"/setup/users/{admin_user.pk}/deactivate/")

    assert (role.status_code, off.status_code) == (409, 409)
    assert b"last active practice admin" in role.content
    admin_user.refresh_from_db()
    assert admin_user.is_active
    assert roles_of(admin_user) == [PRACTICE_ADMIN]
    assert not AuditEvent.objects.filter(action="role_change").exists()


def test_with_two_practice_admins_one_can_demote_the_other(admin_client):
    other = UserFactory(role=PRACTICE_ADMIN)

    response = admin_client.post(f"/setup/users/{other.pk}/role/", {"role": RECEPTION})

    assert response.status_code == 302
    assert roles_of(other) == [RECEPTION]


def test_a_practice_admin_cannot_change_their_own_role_or_deactivate_themselves(
    admin_client, admin_user
):
    UserFactory(role=PRACTICE_ADMIN)  # not the last one, so only the self rule applies

    role = admin_client.post(f"/setup/users/{admin_user.pk}/role/", {"role": RECEPTION})
    off = admin_client.post(f"/setup/users/{admin_user.pk}/deactivate/")

    assert (role.status_code, off.status_code) == (409, 409)
    assert b"your own" in off.content
    admin_user.refresh_from_db()
    assert admin_user.is_active and roles_of(admin_user) == [PRACTICE_ADMIN]


def test_a_practice_admin_cannot_touch_a_superuser(admin_client):
    root = UserFactory(is_superuser=True, is_staff=True)

    responses = [
        admin_client.post(f"/setup/users/{root.pk}/role/", {"role": RECEPTION}),
        admin_client.post(f"/setup/users/{root.pk}/deactivate/"),
        admin_client.post(f"/setup/users/{root.pk}/reset-mfa/"),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    root.refresh_from_db()
    assert root.is_active
    assert Authenticator.objects.filter(user=root).exists()


def test_deactivating_signs_them_out_and_stops_their_tokens_at_once(
    admin_client, admin_user, reception_user
):
    theirs = signed_in(reception_user)
    _, raw = ApiToken.issue(user=reception_user, name="Sync", scopes=["*:read"])
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert bearer.get("/api/v1/patients/").status_code == 200  # now cached

    response = admin_client.post(f"/setup/users/{reception_user.pk}/deactivate/")

    assert response.status_code == 302
    reception_user.refresh_from_db()
    assert not reception_user.is_active
    assert theirs.get("/")["Location"].startswith("/accounts/login/")
    assert bearer.get("/api/v1/patients/").status_code == 401
    event = AuditEvent.objects.get(action="role_change")
    assert (event.detail["before"]["is_active"], event.detail["after"]["is_active"]) == (
        True,
        False,
    )


def test_reactivating_lets_them_sign_in_again_on_the_record(admin_client, reception_user):
    admin_client.post(f"/setup/users/{reception_user.pk}/deactivate/")

    response = admin_client.post(f"/setup/users/{reception_user.pk}/reactivate/")

    assert response.status_code == 302
    reception_user.refresh_from_db()
    assert reception_user.is_active
    assert AuditEvent.objects.filter(action="role_change").count() == 2


def test_resetting_a_lost_second_factor(admin_client, admin_user):
    colleague = UserFactory(role=PRACTICE_ADMIN)
    theirs = signed_in(colleague)
    _, raw = ApiToken.issue(user=colleague, name="Reports", scopes=["*:read"])

    response = admin_client.post(f"/setup/users/{colleague.pk}/reset-mfa/")

    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=colleague).exists()
    event = AuditEvent.objects.get(action="mfa_change")
    assert (event.actor_id, event.object_id) == (admin_user.pk, str(colleague.pk))
    assert event.detail == {"change": "reset", "factors": ["totp"]}
    assert theirs.get("/")["Location"].startswith("/accounts/login/")
    # A token would skip the missing second factor, so it stopped working.
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/patients/").status_code == 401
    assert AuditEvent.objects.get(action="token_revoke").detail["reason"] == "owner_mfa_missing"


def test_a_practice_admin_resets_their_own_second_factor_elsewhere(admin_client, admin_user):
    response = admin_client.post(f"/setup/users/{admin_user.pk}/reset-mfa/")

    assert response.status_code == 409
    assert Authenticator.objects.filter(user=admin_user).exists()


def test_resending_an_invitation_is_on_the_record(admin_client):
    pending = UserFactory(role=RECEPTION, password=None)

    response = admin_client.post(f"/setup/users/{pending.pk}/resend-invitation/")

    assert response.status_code == 302
    assert mail.outbox[0].to == [pending.email]
    assert AuditEvent.objects.get(action="invite").detail["resent"] is True


def test_an_unknown_role_is_refused(admin_client, reception_user):
    response = admin_client.post(f"/setup/users/{reception_user.pk}/role/", {"role": "owner"})

    assert response.status_code == 400
    assert roles_of(reception_user) == [RECEPTION]
