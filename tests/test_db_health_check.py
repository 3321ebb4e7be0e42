"""CONN_HEALTH_CHECKS sends its SELECT 1 only for a connection that sat idle (issue 16):
a worker under load does not pay a round trip per request to learn its connection works."""

import time

import pytest
from django.db import connections

from nexus.db.postgresql.base import IDLE_SECONDS

connection = connections["default"]  # the backend itself: monkeypatch cannot undo through a proxy

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend's"),
]


@pytest.fixture
def health_checks(monkeypatch):
    checks: list[bool] = []

    def is_usable() -> bool:
        checks.append(True)
        return True

    monkeypatch.setattr(connection, "is_usable", is_usable)
    monkeypatch.setattr(connection, "health_check_enabled", True)
    connection.ensure_connection()
    return checks


def next_request() -> None:
    # What Django's request_started does to a persistent connection (close_old_connections).
    connection.health_check_done = False


def test_a_connection_that_just_ran_a_query_is_not_checked_again(health_checks):
    connection.close_if_health_check_failed()  # a query of the previous request

    next_request()
    connection.close_if_health_check_failed()

    assert health_checks == []


def test_a_connection_idle_for_a_while_is_checked_before_its_next_query(health_checks, monkeypatch):
    monkeypatch.setattr(connection, "_query_started_at", time.monotonic() - IDLE_SECONDS - 1)

    next_request()
    connection.close_if_health_check_failed()
    connection.close_if_health_check_failed()  # a second query of the same request

    assert health_checks == [True]
