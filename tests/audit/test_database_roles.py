"""The app's database role may only INSERT and SELECT audit events (issue 12 item 6); sealing
runs as the schema owner through the `audit_owner` alias (README "Database roles").

The role is set up exactly as the README says (`audit_app_role`'s statements), and the app
really logs in as it: a second connection, not SET ROLE, so nothing here can RESET it.
"""

from collections.abc import Iterator

import pytest
from django.db import DatabaseError, connection, connections, transaction

from audit.dbrole import app_role_sql
from audit.models import AuditEvent
from audit.services import Target, audit_chain_verify, audit_record, audit_seal
from tests.factories import PatientFactory

requires_roles = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL roles: SQLite has no database users to grant privileges to",
)
pytestmark = [
    requires_roles,
    pytest.mark.django_db(transaction=True, databases=["default", "audit_owner"]),
]

PASSWORD = "app-role-test"  # ignored where the test server trusts local connections


def _drop(role: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone():
            cursor.execute(f'DROP OWNED BY "{role}"')
            cursor.execute(f'DROP ROLE "{role}"')


@pytest.fixture
def app_role() -> Iterator[str]:
    """The default connection now logs in as a fresh app role; `audit_owner` stays the
    test database's owner."""
    owner_connection = connections["default"]
    role = f"nexus_app_{owner_connection.settings_dict['NAME']}"[:60]
    _drop(role)
    with connection.cursor() as cursor:
        owner = cursor.connection.info.user
        cursor.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{PASSWORD}'")
        for statement in app_role_sql(app_role=role, owner=owner):
            cursor.execute(statement)
    as_app = owner_connection.__class__(
        {**owner_connection.settings_dict, "USER": role, "PASSWORD": PASSWORD}, alias="default"
    )
    connections["default"] = as_app
    try:
        yield role
    finally:
        as_app.close()
        connections["default"] = owner_connection
        _drop(role)


def _record_reads(times: int, rf) -> None:
    patient = PatientFactory()  # the app role writes the other tables as before
    for _ in range(times):
        audit_record(
            request=rf.get("/"),
            action=AuditEvent.Action.READ,
            targets=[Target("patients.patient", str(patient.pk), patient.pk)],
        )


def _refused(statement: str) -> None:
    with (
        pytest.raises(DatabaseError, match="permission denied"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)


def test_the_app_role_inserts_and_selects_audit_events_and_nothing_else(app_role, rf):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone() == (app_role,)

    _record_reads(2, rf)

    assert AuditEvent.objects.filter(seq__isnull=True).count() == 2
    for statement in [
        "UPDATE audit_auditevent SET detail = '{}'",
        "UPDATE audit_auditevent SET action = 'search'",
        # Sealing's own columns too: the app can no longer seal, or re-chain.
        "UPDATE audit_auditevent SET seq = 1, prev_hash = '', hash = '' WHERE seq IS NULL",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
    ]:
        _refused(statement)
    assert AuditEvent.objects.count() == 2


def test_sealing_runs_as_the_owner_while_the_app_runs_as_its_role(app_role, rf):
    _record_reads(3, rf)

    assert audit_seal() == 3

    # Read back through the app role's connection: sealed, linked, intact.
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3]
    assert audit_chain_verify().ok
    with connections["audit_owner"].cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone() != (app_role,)
