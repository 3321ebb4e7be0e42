"""API tokens from the staff pages (issue 10 "API tokens from the UI", issue 12 item 10):
issued once, scoped, revoked, only for owners who meet their role's second-factor rule,
and listed with that state."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import ApiToken, hash_token
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


def issue(client: Client, user, scopes=("patients:read",), name="Reporting"):
    return client.post(
        "/setup/tokens/new/", {"name": name, "user": user.pk, "scopes": list(scopes)}
    )


def test_a_practice_admin_issues_a_token_shown_once(admin_client, admin_user, reception_user):
    response = issue(admin_client, reception_user, scopes=["patients:read", "appointments:write"])

    assert response.status_code == 201
    raw = re.search(r'value="(nx_[^"]+)"', response.content.decode()).group(1)  # type: ignore[union-attr]
    token = ApiToken.objects.get()
    assert token.key_hash == hash_token(raw)
    assert (token.user, token.scopes) == (reception_user, ["appointments:write", "patients:read"])
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="token_issue")
    assert (event.actor_id, event.object_id) == (admin_user.pk, str(token.pk))
    assert event.detail == {
        "user": reception_user.pk,
        "scopes": ["appointments:write", "patients:read"],
        "via": "staff_ui",
    }
    # It works, within its scopes, and the list never shows it again.
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert bearer.get("/api/v1/patients/").status_code == 200
    assert bearer.get("/api/v1/clinicians/").status_code == 403
    assert raw not in admin_client.get("/setup/tokens/").content.decode()


def test_a_token_needs_at_least_one_known_scope(admin_client, reception_user):
    none = issue(admin_client, reception_user, scopes=[])
    bogus = issue(admin_client, reception_user, scopes=["patients:delete"])

    assert (none.status_code, bogus.status_code) == (400, 400)
    assert not ApiToken.objects.exists()


def test_no_token_for_a_practice_admin_without_a_second_factor(admin_client):
    unenrolled = UserFactory(role=PRACTICE_ADMIN, totp=False, full_name="Una Enrolled")

    response = issue(admin_client, unenrolled)

    assert response.status_code == 400
    assert b"must set up two-factor authentication" in response.content
    assert not ApiToken.objects.exists()


def test_a_practice_admin_with_a_second_factor_may_hold_a_token(admin_client):
    enrolled = UserFactory(role=PRACTICE_ADMIN)

    assert issue(admin_client, enrolled).status_code == 201


def test_when_everyone_needs_a_second_factor_so_does_every_token_owner(
    admin_client, reception_user, settings
):
    settings.NEXUS_MFA_REQUIRED_FOR_ALL = True

    assert issue(admin_client, reception_user).status_code == 400


def test_no_token_that_could_do_more_than_its_issuer(admin_client, clinician_user):
    # A clinician reads note bodies; a practice admin does not, so may not act as one.
    superuser = UserFactory(is_superuser=True, is_staff=True)

    as_clinician = issue(admin_client, clinician_user)
    as_superuser = issue(admin_client, superuser)

    assert (as_clinician.status_code, as_superuser.status_code) == (403, 403)
    assert not ApiToken.objects.exists()


def test_the_token_list_shows_each_owners_second_factor(admin_client, settings):
    enrolled = UserFactory(role=PRACTICE_ADMIN, full_name="Enid Enrolled")
    ApiToken.issue(user=enrolled, name="Enid's reports", scopes=["*:read"])
    lapsed = UserFactory(role=PRACTICE_ADMIN, totp=False, full_name="Larry Lapsed")
    ApiToken.issue(user=lapsed, name="Old sync", scopes=["*:read"])  # from before the rule
    ApiToken.issue(user=UserFactory(role=RECEPTION), name="Front desk", scopes=["*:read"])

    html = admin_client.get("/setup/tokens/").content.decode()

    rows = {
        m.group(1).strip(): m.group(0)
        for m in re.finditer(r"<tr>\s*<td>([^<]+)<.*?</tr>", html, re.S)
    }
    assert "Authenticator app" in rows["Enid&#x27;s reports"]
    assert "Not set up (required)" in rows["Old sync"]
    assert "Not set up" in rows["Front desk"]
    assert "required" not in rows["Front desk"]


def test_the_token_list_costs_the_same_for_any_number_of_tokens(
    admin_client, django_assert_max_num_queries
):
    for _ in range(6):
        ApiToken.issue(user=UserFactory(role=RECEPTION), name="t", scopes=["*:read"])

    with django_assert_max_num_queries(10):
        assert admin_client.get("/setup/tokens/").status_code == 200


def test_revoking_from_the_list_stops_the_token_at_once(admin_client, admin_user, reception_user):
    token, raw = ApiToken.issue(user=reception_user, name="Sync", scopes=["*:read"])
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert bearer.get("/api/v1/patients/").status_code == 200  # cached now

    response = admin_client.post(f"/setup/tokens/{token.pk}/revoke/")

    assert response.status_code == 302
    assert bearer.get("/api/v1/patients/").status_code == 401
    event = AuditEvent.objects.get(action="token_revoke")
    assert (event.actor_id, event.object_id) == (admin_user.pk, str(token.pk))


@pytest.mark.parametrize("role", [CLINICIAN, RECEPTION])
def test_other_roles_cannot_issue_or_revoke(role, reception_user):
    client = signed_in(role)
    token, _ = ApiToken.issue(user=reception_user, name="Sync", scopes=["*:read"])

    assert issue(client, reception_user).status_code == 403
    assert client.post(f"/setup/tokens/{token.pk}/revoke/").status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_command_applies_the_second_factor_rule_too():
    unenrolled = UserFactory(role=PRACTICE_ADMIN, totp=False)

    with pytest.raises(CommandError, match="two-factor"):
        call_command("issue_api_token", unenrolled.email, stdout=StringIO())
    assert not ApiToken.objects.exists()


def test_the_admin_revoke_action_goes_through_the_service(reception_user):
    token, _ = ApiToken.issue(user=reception_user, name="Sync", scopes=["*:read"])
    client = Client()
    superuser = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(superuser)

    client.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.get(action="token_revoke").detail == {"user": reception_user.pk}
