"""The compiled-once reads run as prepared statements on PostgreSQL (nexus.db.prepared):
the connection plans them once, and they read what the ordinary cursor reads."""

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from accounts.roles import RECEPTION
from nexus.db.prepared import execute, fetch_all
from patients.api.serializers import PATIENT_LIST_COLUMNS
from patients.selectors import patient_list_rows, patient_rows_page
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

SQL = "SELECT id, given_name FROM patients_patient WHERE id >= %s ORDER BY id"


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def test_fetch_all_reads_what_the_ordinary_cursor_reads():
    patients = PatientFactory.create_batch(3)
    first = patients[1].pk
    with connection.cursor() as cursor:
        cursor.execute(SQL, [first])
        expected = cursor.fetchall()

    assert [fetch_all(connection, SQL, [first]) for _ in range(3)] == [expected] * 3


def test_fetch_all_is_one_logged_query():
    patient = PatientFactory()

    with CaptureQueriesContext(connection) as queries:
        fetch_all(connection, SQL, [patient.pk])

    assert len(queries) == 1
    if connection.vendor == "postgresql":  # with its values, as Django logs any query
        assert queries[0]["sql"] == SQL.replace("%s", str(patient.pk))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statements")
def test_the_statement_is_prepared_once_for_the_connection():
    patients = PatientFactory.create_batch(2)

    for patient in patients * 3:
        fetch_all(connection, SQL, [patient.pk])

    assert prepared_statements().count(SQL.replace("%s", "$1")) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statements")
def test_the_ordinary_cursor_still_prepares_nothing():
    PatientFactory()

    for _ in range(10):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM patients_patient WHERE id > %s", [0])

    assert not [s for s in prepared_statements() if "count(*)" in s]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statements")
def test_a_plain_patient_list_page_is_a_prepared_statement():
    PatientFactory.create_batch(4)
    rows = patient_list_rows(user=UserFactory(role=RECEPTION), columns=PATIENT_LIST_COLUMNS)

    pages = [patient_rows_page(rows.all(), offset=1, limit=2) for _ in range(3)]

    assert pages[0] is not None
    assert pages == [pages[0]] * 3
    assert [row["id"] for row in pages[0].rows] == list(
        rows.all().values_list("id", flat=True)[1:3]
    )
    assert len([s for s in prepared_statements() if "LIMIT 2 OFFSET 1" in s]) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statements")
def test_a_prepared_statement_is_planned_once_not_per_execution():
    # Left to choose, PostgreSQL planned the day schedule afresh on every execution.
    patients = PatientFactory.create_batch(2)

    for patient in patients * 4:
        fetch_all(connection, SQL, [patient.pk])

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = %s",
            [SQL.replace("%s", "$1")],
        )
        assert cursor.fetchall() == [(8, 0)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL cursor")
def test_the_connection_keeps_one_cursor_for_its_prepared_statements():
    # A new psycopg cursor per statement looked up every parameter's dumper and every
    # column's loader again (issue 16); the connection's one cursor keeps them.
    patient = PatientFactory()
    fetch_all(connection, SQL, [patient.pk])
    kept = connections["default"]._nexus_prepared_cursor

    fetch_all(connection, SQL, [patient.pk])
    execute(
        connection,
        "UPDATE patients_patient SET given_name = given_name WHERE id = %s",
        [patient.pk],
    )

    assert connections["default"]._nexus_prepared_cursor is kept
    assert not kept.closed


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL cursor")
@pytest.mark.django_db(transaction=True)  # closes the connection
def test_a_new_connection_gets_a_new_cursor():
    patient = PatientFactory()
    expected = fetch_all(connection, SQL, [patient.pk])
    kept = connections["default"]._nexus_prepared_cursor
    old_connection = connection.connection

    connection.close()  # as Django does between requests when a connection is too old

    assert fetch_all(connection, SQL, [patient.pk]) == expected
    assert connection.connection is not old_connection
    assert connections["default"]._nexus_prepared_cursor is not kept


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL cursor")
def test_a_closed_cursor_is_replaced():
    patient = PatientFactory()
    expected = fetch_all(connection, SQL, [patient.pk])
    connections["default"]._nexus_prepared_cursor.close()

    assert fetch_all(connection, SQL, [patient.pk]) == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL cursor")
def test_the_kept_cursor_reads_again_after_a_failed_statement():
    patient = PatientFactory()
    expected = fetch_all(connection, SQL, [patient.pk])

    with pytest.raises(DatabaseError), transaction.atomic():
        fetch_all(connection, "SELECT 1 / %s", [0])

    assert fetch_all(connection, SQL, [patient.pk]) == expected
