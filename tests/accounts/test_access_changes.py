"""Invitations, role changes, API tokens and sign-outs: who may do what, on the record."""

import re
from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import call_command
from django.test import Client

from accounts.models import ApiToken, User
from audit.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-new-password-42"


@pytest.fixture
def superuser_client(db) -> tuple[Client, User]:
    client = Client()
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client, user


def invite(client: Client, email: str = "new.starter@clinic.example", role: str = "reception"):
    return client.post(
        "/admin/accounts/user/add/", {"email": email, "full_name": "New Starter", "role": role}
    )


def test_an_admin_invites_staff_who_then_choose_a_password(superuser_client):
    client, admin = superuser_client

    response = invite(client)

    assert response.status_code == 302
    user = User.objects.get(email="new.starter@clinic.example")
    assert not user.has_usable_password()  # nobody chose a password for them
    assert list(user.groups.values_list("name", flat=True)) == ["reception"]
    event = AuditEvent.objects.get(action="invite")
    assert (event.object_id, event.actor_id, event.detail["role"]) == (
        str(user.pk),
        admin.pk,
        "reception",
    )
    link = re.search(r"http://testserver(/accounts/invitation/\S+)", mail.outbox[0].body)
    assert link is not None
    assert mail.outbox[0].to == ["new.starter@clinic.example"]

    newcomer = Client()
    form = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    assert newcomer.post(link.group(1), form)["Location"] == "/accounts/login/"
    signed_in = newcomer.post("/accounts/login/", {"login": user.email, "password": NEW_PASSWORD})
    assert signed_in.status_code == 302
    assert newcomer.session["_auth_user_id"] == str(user.pk)
    # The link worked once.
    assert Client().get(link.group(1)).status_code == 404


def test_an_invitation_with_a_weak_password_says_why_and_changes_nothing(superuser_client):
    client, _ = superuser_client
    invite(client)
    path = re.search(r"http://testserver(\S+)", mail.outbox[0].body).group(1)  # type: ignore[union-attr]

    response = Client().post(path, {"new_password1": "short", "new_password2": "short"})

    assert response.status_code == 200
    assert b"too short" in response.content
    assert not User.objects.get(email="new.starter@clinic.example").has_usable_password()


def test_inviting_an_existing_address_is_refused(superuser_client):
    client, _ = superuser_client
    UserFactory(email="taken@clinic.example")

    response = invite(client, email="Taken@Clinic.example")

    assert response.status_code == 200
    assert User.objects.filter(email__iexact="taken@clinic.example").count() == 1
    assert not mail.outbox


def test_a_tampered_invitation_link_is_refused(client):
    user = UserFactory(password=None)
    assert client.get(f"/accounts/invitation/{user.pk}/not-a-token/").status_code == 404
    assert client.get("/accounts/invitation/!!/x/").status_code == 404


def test_role_and_access_changes_in_the_admin_are_recorded(superuser_client):
    client, admin = superuser_client
    user = UserFactory(role="reception", is_staff=False)
    clinician = Group.objects.get(name="clinician")

    response = client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {
            "email": user.email,
            "full_name": user.full_name,
            "is_active": "on",
            "is_staff": "on",
            "groups": [clinician.pk],
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2032-01-01",
            "date_joined_1": "09:00:00",
        },
    )

    assert response.status_code == 302, response.content
    event = AuditEvent.objects.get(action="role_change")
    assert event.object_id == str(user.pk)
    assert event.actor_id == admin.pk
    assert event.detail["before"]["roles"] == ["reception"]
    assert event.detail["after"]["roles"] == ["clinician"]
    assert event.detail["after"]["is_staff"] is True


def test_issuing_and_revoking_tokens_is_recorded(superuser_client, reception_user):
    client, admin = superuser_client
    call_command(
        "issue_api_token", reception_user.email, "--scopes", "patients:read", stdout=StringIO()
    )
    token = ApiToken.objects.get()

    client.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )

    issued = AuditEvent.objects.get(action="token_issue")
    revoked = AuditEvent.objects.get(action="token_revoke")
    assert issued.object_id == revoked.object_id == str(token.pk)
    assert issued.detail["scopes"] == ["patients:read"]
    assert revoked.actor_id == admin.pk


def test_signing_out_is_recorded(client):
    user = UserFactory(role="reception")
    client.force_login(user)

    client.post("/accounts/logout/")

    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.get(action="logout").object_id == str(user.pk)


def test_every_way_of_changing_a_password_is_recorded(superuser_client, clinician_user):
    client, admin = superuser_client

    # A superuser in the admin (the only place anyone sets someone else's password).
    client.post(
        f"/admin/accounts/user/{clinician_user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    # The owner, signed in.
    clinician_user.refresh_from_db()
    own = Client()
    own.force_login(clinician_user)
    own.post(
        "/accounts/password/change/",
        {
            "oldpassword": NEW_PASSWORD,
            "password1": "another-pass-77",
            "password2": "another-pass-77",
        },
    )
    # A management command.
    clinician_user.refresh_from_db()
    clinician_user.set_password("third-password-55")
    clinician_user.save()

    events = AuditEvent.objects.filter(action="password_change").order_by("id")
    assert [(e.object_id, e.actor_id, e.detail["by"]) for e in events] == [
        (str(clinician_user.pk), admin.pk, "other"),
        (str(clinician_user.pk), clinician_user.pk, "self"),
        (str(clinician_user.pk), None, "command"),
    ]
    assert all("password" not in str(e.detail).replace("password_change", "") for e in events)


def test_accepting_an_invitation_records_the_first_password(superuser_client):
    client, _ = superuser_client
    invite(client)
    path = re.search(r"http://testserver(\S+)", mail.outbox[0].body).group(1)  # type: ignore[union-attr]

    Client().post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    event = AuditEvent.objects.get(action="password_change")
    assert event.object_id == str(User.objects.get(email="new.starter@clinic.example").pk)
    assert event.detail == {"by": "emailed_link"}


def test_removing_a_second_factor_in_the_admin_is_recorded_and_signs_them_out(
    superuser_client, admin_user
):
    client, root = superuser_client
    theirs = Client()
    theirs.force_login(admin_user)
    assert theirs.get("/").status_code == 200
    factor = Authenticator.objects.get(user=admin_user, type="totp")

    page = client.get(f"/admin/mfa/authenticator/{factor.pk}/change/")
    client.post(f"/admin/mfa/authenticator/{factor.pk}/delete/", {"post": "yes"})

    assert b"secret" not in page.content
    assert not Authenticator.objects.filter(pk=factor.pk).exists()
    event = AuditEvent.objects.get(action="mfa_change")
    assert (event.actor_id, event.object_id) == (root.pk, str(admin_user.pk))
    assert event.detail["change"] == "removed"
    assert theirs.get("/")["Location"].startswith("/accounts/login/")


def test_roles_are_read_only_in_the_admin(superuser_client):
    client, _ = superuser_client
    reception = Group.objects.get(name="reception")
    before = set(reception.permissions.values_list("pk", flat=True))

    response = client.post(
        f"/admin/auth/group/{reception.pk}/change/", {"name": "reception", "permissions": []}
    )

    assert response.status_code == 403
    assert set(reception.permissions.values_list("pk", flat=True)) == before
