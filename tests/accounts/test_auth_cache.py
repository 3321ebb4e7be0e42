"""The signed-in user and their permissions come from the cache, and every change to them
applies on the very next request."""

import pytest
from django.contrib import auth
from django.contrib.auth.models import Group, Permission
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts import auth_cache
from accounts.auth_cache import forget
from accounts.models import User
from accounts.services import user_sessions_end
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGE = "/patients/"  # needs patients.view_patient


def _auth_queries(client: Client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(PAGE).status_code == 200
    return [
        q["sql"]
        for q in queries.captured_queries
        if "accounts_user" in q["sql"] or "auth_permission" in q["sql"]
    ]


@pytest.fixture
def signed_in() -> tuple[Client, User]:
    user = UserFactory(role="reception")
    client = Client()
    client.force_login(user)
    assert client.get(PAGE).status_code == 200  # the user is cached from here on
    return client, user


def test_a_staff_page_loads_neither_the_user_nor_their_permissions_again(signed_in):
    client, _ = signed_in

    assert _auth_queries(client) == []


def test_a_permission_taken_from_a_role_applies_on_the_next_request(signed_in):
    client, _ = signed_in

    Group.objects.get(name="reception").permissions.remove(
        Permission.objects.get(codename="view_patient", content_type__app_label="patients")
    )

    assert client.get(PAGE).status_code == 403


def test_a_permission_given_to_a_role_applies_on_the_next_request(signed_in):
    client, _ = signed_in
    Group.objects.get(name="reception").permissions.remove(
        Permission.objects.get(codename="view_patient", content_type__app_label="patients")
    )
    assert client.get(PAGE).status_code == 403

    Group.objects.get(name="reception").permissions.add(
        Permission.objects.get(codename="view_patient", content_type__app_label="patients")
    )

    assert client.get(PAGE).status_code == 200


def test_a_role_taken_away_applies_on_the_next_request(signed_in):
    client, user = signed_in

    user.groups.clear()

    assert client.get(PAGE).status_code == 403


def test_a_member_removed_from_the_role_side_loses_it_on_the_next_request(signed_in):
    client, user = signed_in

    Group.objects.get(name="reception").user_set.remove(user)

    assert client.get(PAGE).status_code == 403


def test_a_deleted_role_applies_on_the_next_request(signed_in):
    client, _ = signed_in

    Group.objects.get(name="reception").delete()

    assert client.get(PAGE).status_code == 403


def test_a_deactivated_user_is_signed_out_on_the_next_request(signed_in):
    client, user = signed_in

    user.is_active = False
    user.save()

    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_ending_a_users_sessions_signs_them_out_on_the_next_request(signed_in):
    client, user = signed_in

    user_sessions_end(user=user)

    assert client.get(PAGE).status_code == 302


def test_a_password_change_signs_out_the_users_other_sessions(signed_in):
    client, user = signed_in

    user.set_password("a-brand-new-password-42")
    user.save()

    assert client.get(PAGE).status_code == 302


def test_signing_out_and_in_again_loads_the_user_afresh(signed_in):
    client, user = signed_in
    client.post("/accounts/logout/")
    User.objects.filter(pk=user.pk).update(full_name="Renamed Person")  # bypasses save()

    client.force_login(User.objects.get(pk=user.pk))

    assert b"Renamed" in client.get(PAGE).content


def test_another_users_cached_entry_is_not_taken_for_this_session(signed_in):
    client, user = signed_in
    other = Client()
    other.force_login(UserFactory(role="clinician"))
    other.get(PAGE)

    assert client.get(PAGE).wsgi_request.user.pk == user.pk


def test_a_change_committed_while_a_request_reads_the_user_is_not_hidden_by_its_entry(
    signed_in, monkeypatch
):
    """A request reads the user, the deactivation commits (and retires the entry), and only
    then does the request cache what it read: that entry must never be taken."""
    client, user = signed_in
    read_user = auth.get_user

    def read_then_the_change_commits(request):  # type: ignore[no-untyped-def]
        found = read_user(request)
        User.objects.filter(pk=user.pk).update(is_active=False)
        forget(user.pk)  # what the deactivation's save does after commit
        return found

    monkeypatch.setattr(auth, "get_user", read_then_the_change_commits)
    forget(user.pk)  # the next request reads the user afresh, and is overtaken
    assert client.get(PAGE).status_code == 200  # it read the user while still active
    monkeypatch.setattr(auth, "get_user", read_user)

    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def _cache_reads(client: Client, monkeypatch) -> int:  # type: ignore[no-untyped-def]
    """Round trips a page makes to read the cache (a get_many is one, whatever the backend
    does inside it)."""
    backend, reads, inside = caches["default"], [], []

    def counted(read):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            if not inside:
                reads.append(1)
            inside.append(1)
            try:
                return read(*args, **kwargs)
            finally:
                inside.pop()

        return call

    with monkeypatch.context() as patch:
        for name in ("get", "get_many"):
            patch.setattr(backend, name, counted(getattr(backend, name)))
        assert client.get(PAGE).status_code == 200
    return len(reads)


def test_a_sessions_next_request_reads_the_session_and_its_user_in_one_round_trip(
    signed_in, monkeypatch
):
    client, _ = signed_in
    known = _cache_reads(client, monkeypatch)

    auth_cache._session_users.clear()  # as in a worker that has not served this session yet
    unknown = _cache_reads(client, monkeypatch)

    assert unknown - known == 1


def test_a_session_whose_remembered_user_is_wrong_is_still_its_own_user(signed_in):
    client, user = signed_in
    other = UserFactory(role="clinician")
    other_client = Client()
    other_client.force_login(other)
    other_client.get(PAGE)  # the other user's entries are in the cache
    session_key = client.cookies["sessionid"].value
    auth_cache._session_users[session_key] = str(other.pk)

    assert client.get(PAGE).wsgi_request.user.pk == user.pk
    assert auth_cache._session_users[session_key] == str(user.pk)


def test_a_session_ended_elsewhere_is_signed_out_although_its_user_was_remembered(signed_in):
    client, user = signed_in
    assert client.cookies["sessionid"].value in auth_cache._session_users

    user_sessions_end(user=user)

    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
