"""Every change to who may do what leaves an audit event, whichever path made it.

The staff pages and the admin record role changes themselves, with who asked and from
where. `manage.py createsuperuser`, `manage.py shell` and any other code that sets
`is_superuser`/`is_staff`/`is_active` or changes a user's groups (roles) went unrecorded,
so the model layer records them too: User.save() compares the flags with those loaded, and
a signal watches group membership from both sides (`user.groups`, `group.user_set`).
Callers that write their own, richer event wrap the change in `audited_by_caller()` so
there is one event per change, not two.

Bulk `QuerySet.update()` and raw SQL bypass both hooks, as they bypass every model rule.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import Group

if TYPE_CHECKING:
    from accounts.models import User

ACCESS_FLAGS = ("is_active", "is_staff", "is_superuser")

_caller_audits: ContextVar[bool] = ContextVar("nexus_access_audited_by_caller", default=False)


@contextmanager
def audited_by_caller() -> Iterator[None]:
    """The code inside records its own event for the access change it makes."""
    token = _caller_audits.set(True)
    try:
        yield
    finally:
        _caller_audits.reset(token)


def access_flags(user: "User") -> dict[str, Any]:
    # From __dict__: a row loaded with only() must not run a query per deferred flag.
    return {name: user.__dict__[name] for name in ACCESS_FLAGS if name in user.__dict__}


def _record(user: "User", detail: dict[str, Any]) -> None:
    if _caller_audits.get():
        return
    from accounts.services import user_access
    from audit.models import AuditEvent
    from audit.services import audit_account

    audit_account(
        request=None,
        action=AuditEvent.Action.ROLE_CHANGE,
        obj=user,
        detail={**detail, "after": user_access(user), "via": "model"},
    )


def flags_saved(user: "User", *, before: dict[str, Any] | None) -> None:
    """After User.save(): `before` is None for a new user."""
    after = access_flags(user)
    if before is None:
        if after.get("is_staff") or after.get("is_superuser"):
            _record(user, {"created": True})
        return
    changed = {name: [before[name], after[name]] for name in before if before[name] != after[name]}
    if changed:
        _record(user, {"changed": changed})


def _roles_changed(users: Iterable["User"], names: list[str], action: str) -> None:
    key = "roles_added" if action == "post_add" else "roles_removed"
    for user in users:
        _record(user, {key: sorted(names)})


def groups_changed(
    sender: Any,
    instance: Any,
    action: str,
    reverse: bool,
    model: Any,
    pk_set: set[int] | None,
    **kwargs: Any,
) -> None:
    """m2m_changed on User.groups.through."""
    from accounts.models import User

    if action == "pre_clear":
        # After the clear there is nothing left to say what was removed.
        members = instance.user_set.all() if reverse else instance.groups.all()
        instance._nexus_cleared = list(members.values_list("pk", flat=True))
        return
    if action == "post_clear":
        pk_set = set(getattr(instance, "_nexus_cleared", []))
        action = "post_remove"
    if action not in ("post_add", "post_remove") or not pk_set:
        return
    if reverse:  # group.user_set.add(users...)
        _roles_changed(User.objects.filter(pk__in=pk_set), [instance.name], action)
    else:  # user.groups.add(groups...)
        names = list(Group.objects.filter(pk__in=pk_set).values_list("name", flat=True))
        _roles_changed([instance], names, action)
