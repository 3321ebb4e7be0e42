from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from accounts.models import ApiToken, TokenOwnerImmutable, hash_token
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def issue(email: str, *scopes: str) -> str:
    out = StringIO()
    args = [email, *(["--scopes", *scopes] if scopes else [])]
    call_command("issue_api_token", *args, stdout=out)
    return out.getvalue().strip()


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_issue_api_token_prints_a_token_that_is_stored_only_hashed(reception_user):
    raw = issue(reception_user.email)

    token = ApiToken.objects.get()
    assert raw.startswith("nx_")
    assert token.key_hash == hash_token(raw)
    assert raw not in (token.key_hash, token.key_hint)
    assert bearer(raw).get("/api/v1/patients/").status_code == 200


def test_token_use_is_recorded(reception_user):
    raw = issue(reception_user.email)

    bearer(raw).get("/api/v1/patients/")

    assert ApiToken.objects.get().last_used_at is not None


def test_unknown_user_is_a_command_error(db):
    with pytest.raises(CommandError, match="No active user"):
        issue("nobody@nexus.test")


def test_bad_scopes_are_refused(reception_user):
    with pytest.raises(CommandError, match="Bad scope"):
        issue(reception_user.email, "patients:delete-everything")


def test_a_revoked_token_stops_working_at_once(reception_user):
    raw = issue(reception_user.email)
    client = bearer(raw)
    assert client.get("/api/v1/patients/").status_code == 200  # now cached

    ApiToken.objects.get().revoke()
    response = client.get("/api/v1/patients/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_deactivated_users_token_stops_working(reception_user):
    raw = issue(reception_user.email)
    cache.clear()  # Deactivation applies within the cache lifetime; here, at once.
    reception_user.is_active = False
    reception_user.save()

    assert bearer(raw).get("/api/v1/patients/").status_code == 401


def test_scopes_narrow_what_a_token_may_do(reception_user):
    client = bearer(issue(reception_user.email, "patients:read"))

    read = client.get("/api/v1/patients/")
    write = client.post("/api/v1/patients/", {"given_name": "A", "family_name": "B"}, format="json")
    other = client.get("/api/v1/appointments/")

    assert read.status_code == 200
    assert write.status_code == 403
    assert other.status_code == 403


def test_a_token_never_exceeds_its_users_role(reception_user):
    client = bearer(issue(reception_user.email, "*:read", "*:write"))

    response = client.post("/api/v1/clinics/", {"name": "Rogue clinic"}, format="json")

    assert response.status_code == 403


def test_garbage_tokens_are_401(db):
    assert bearer("nx_not-a-real-token").get("/api/v1/patients/").status_code == 401


def test_roles_grant_the_documented_permissions(admin_user, clinician_user, reception_user):
    assert admin_user.has_perm("clinicians.add_clinic")
    assert not reception_user.has_perm("clinicians.add_clinic")
    assert clinician_user.has_perm("notes.view_note_body")
    assert not reception_user.has_perm("notes.view_note_body")
    assert not admin_user.has_perm("notes.view_note_body")
    assert clinician_user.has_perm("notes.sign_clinicalnote")
    assert reception_user.has_perm("patients.change_patient")


def test_a_user_without_a_role_sees_nothing(db):
    client = APIClient()
    client.force_authenticate(UserFactory())
    PatientFactory()

    assert client.get("/api/v1/patients/").status_code == 403


def test_a_cached_token_authenticates_without_queries(reception_user, django_assert_num_queries):
    client = bearer(issue(reception_user.email))
    client.get("/api/v1/disciplines/")

    # Only the list itself: no token, user or permission lookups.
    with django_assert_num_queries(1):
        client.get("/api/v1/disciplines/")


def test_a_token_cannot_be_re_pointed_at_another_user(reception_user, admin_user):
    issue(reception_user.email, "patients:read")
    token = ApiToken.objects.get()

    token.user = admin_user
    with pytest.raises(TokenOwnerImmutable):
        token.save()
    # Nor by a write that skips the model: the database refuses it.
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.filter(pk=token.pk).update(user=admin_user)

    assert ApiToken.objects.get().user_id == reception_user.pk


def test_a_token_keeps_working_for_its_owner_after_other_changes(reception_user):
    raw = issue(reception_user.email, "patients:read")
    token = ApiToken.objects.get()

    token.name = "Renamed"
    token.save()

    assert bearer(raw).get("/api/v1/patients/").status_code == 200


def test_the_admin_shows_a_token_read_only(client, reception_user):
    issue(reception_user.email, "patients:read")
    token = ApiToken.objects.get()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    other = UserFactory()

    page = client.get(f"/admin/accounts/apitoken/{token.pk}/change/")
    client.post(
        f"/admin/accounts/apitoken/{token.pk}/change/",
        {"user": other.pk, "name": "x", "scopes": '["*:write"]'},
    )

    assert page.status_code == 200
    assert b'name="user"' not in page.content
    token.refresh_from_db()
    assert (token.user_id, token.scopes) == (reception_user.pk, ["patients:read"])
