"""Changes to who may do what are audited whichever path makes them: createsuperuser, a
shell session's ORM calls, and group membership from either side (issue 12)."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import RequestFactory

from accounts.models import User
from accounts.roles import PRACTICE_ADMIN, RECEPTION
from accounts.services import user_role_change
from audit.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _access_events(user: User) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            action=AuditEvent.Action.ROLE_CHANGE, object_type="accounts.user", object_id=user.pk
        ).order_by("id")
    )


def test_createsuperuser_records_a_new_superuser(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-new-password-42")

    call_command("createsuperuser", "--no-input", "--email", "root@nexus.test", verbosity=0)

    user = User.objects.get(email="root@nexus.test")
    [event] = _access_events(user)
    assert event.detail["created"] is True
    assert event.detail["after"]["is_superuser"] is True
    assert event.detail["via"] == "model"
    assert event.actor_id is None


def test_ticking_is_superuser_in_a_shell_records_before_and_after():
    user = UserFactory(role=RECEPTION)

    user.is_superuser = True
    user.is_staff = True
    user.save()

    [event] = _access_events(user)
    assert event.detail["changed"] == {"is_staff": [False, True], "is_superuser": [False, True]}
    assert event.detail["after"]["is_superuser"] is True


def test_a_row_loaded_fresh_and_saved_unchanged_records_nothing():
    user = UserFactory(role=RECEPTION)

    fresh = User.objects.get(pk=user.pk)
    fresh.full_name = "Renamed"
    fresh.save()
    User.objects.only("pk", "email").get(pk=user.pk).save(update_fields=["email"])

    assert _access_events(user) == []


def test_group_membership_changes_are_recorded_from_either_side():
    user = UserFactory(role=RECEPTION)
    admins = Group.objects.get(name=PRACTICE_ADMIN)

    user.groups.add(admins)
    admins.user_set.remove(user)
    user.groups.clear()

    events = _access_events(user)
    assert [e.detail.get("roles_added") or e.detail.get("roles_removed") for e in events] == [
        [PRACTICE_ADMIN],
        [PRACTICE_ADMIN],
        [RECEPTION],
    ]
    assert [("roles_added" in e.detail) for e in events] == [True, False, False]
    assert events[-1].detail["after"]["roles"] == []


def test_a_role_change_on_the_staff_pages_is_recorded_once(client):
    manager = UserFactory(role=PRACTICE_ADMIN)
    user = UserFactory(role=RECEPTION)
    client.force_login(manager)

    request = RequestFactory().post("/setup/users/")
    request.user = manager
    user_role_change(request=request, user=user, role=PRACTICE_ADMIN, by=manager)

    [event] = _access_events(user)
    assert event.actor_id == manager.pk
    assert "via" not in event.detail
