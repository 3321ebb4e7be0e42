"""timestamptz columns are read by psycopg's C loader, not Django's Python one (issue 16),
and come back exactly as Django's would have returned them."""

import datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.db import connections
from django.db.backends.postgresql.psycopg_any import BaseTzLoader, get_adapters_template
from psycopg.postgres import types as pg_types
from psycopg.pq import Format

from appointments.models import Appointment
from tests.factories import AppointmentFactory

connection = connections["default"]

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend's"),
]

TIMESTAMPTZ = pg_types["timestamptz"].oid

VALUES = [
    "2026-11-27 06:30:00+00",
    "2024-03-31 02:30:00.5+11",  # Sydney's last hour of daylight saving, fractional
    "2024-10-06 02:30:00.000001+10:30",  # a half-hour offset, one microsecond
    "1900-01-01 00:00:00+09:58:40",  # an offset with seconds
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


def read(sql: str, *, django_loader: bool) -> list[tuple]:
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        if django_loader:
            loader = get_adapters_template(True, connection.timezone).get_loader(
                TIMESTAMPTZ, Format.TEXT
            )
            cursor.adapters.register_loader(TIMESTAMPTZ, loader)
        cursor.execute(sql)
        return cursor.fetchall()


def test_the_connection_reads_timestamptz_with_psycopgs_own_loader():
    connection.ensure_connection()
    registered = connection.connection.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)

    loader = registered(TIMESTAMPTZ, connection.connection)

    assert not isinstance(loader, BaseTzLoader)
    assert type(loader) is psycopg.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)


def test_timestamptz_values_are_those_djangos_loader_returns_with_the_same_tzinfo():
    sql = (
        "SELECT " + ", ".join(f"'{value}'::timestamptz" for value in VALUES) + ", NULL::timestamptz"
    )

    ours = read(sql, django_loader=False)
    djangos = read(sql, django_loader=True)

    assert ours == djangos
    assert [value.tzinfo for value in ours[0][:-1]] == [datetime.UTC] * len(VALUES)
    assert all(value.tzinfo is datetime.UTC for value in ours[0][:-1])
    assert ours[0][-1] is None


def test_a_model_reads_back_the_aware_datetime_it_saved():
    sydney = ZoneInfo("Australia/Sydney")
    appointment = AppointmentFactory(
        start=datetime.datetime(2026, 4, 5, 9, 30, 0, 250, tzinfo=sydney)
    )

    start = Appointment.objects.values_list("start", flat=True).get(pk=appointment.pk)

    assert start == appointment.start
    assert start.tzinfo is datetime.UTC
