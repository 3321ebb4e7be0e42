"""Rows of a fixed SQL text, run as a prepared statement on PostgreSQL.

Django binds parameters client-side (psycopg's ClientCursor): each query goes to PostgreSQL
as text with its values inlined, which PostgreSQL parses and plans again every time. For
the few reads whose SQL is compiled once and run again and again with new values (the
plain patient list page, the calendar's appointments, a patient by id, a search page),
planning cost PostgreSQL more CPU than running them: a day schedule plans in ~1.3 ms and
runs in ~0.25 ms (issue 16). fetch_all() runs such a text on a server-side-binding psycopg
cursor with prepare=True, so the connection parses and plans it once and then only
executes it.

Only for SQL whose plan need not depend on its values: the connection plans each
statement once, without looking at them (`plan_cache_mode = force_generic_plan`, set by
nexus.db.postgresql). A patient search comes here only written for that: each branch's
index range given as parameters, and a common prefix read another way
(patients.selectors.PatientSearchBranches).

The cursor is Django's wrapper around psycopg's, so execute_wrappers, query logging and
assertNumQueries see the statement as they see any other. On any other database the
ordinary cursor runs the same text.

Prepared statements belong to the connection: Django's persistent connections
(CONN_MAX_AGE) keep them, and they go when it closes. psycopg keeps the last 100 texts
prepared per connection (prepared_max). A server restart closes the connection, and
Django opens a new one; but a connection pooler in transaction mode (PgBouncer's
pool_mode=transaction without max_prepared_statements) hands the next transaction a
server connection that never saw the statement, and DISCARD ALL drops them: connect
directly or through a session-mode pooler (README, DATABASE_CONN_MAX_AGE).
"""

from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.utils.connection import ConnectionProxy
from psycopg.postgres import types as pg_types
from psycopg.pq import Format

_TIMESTAMPTZ_OID = pg_types["timestamptz"].oid


class PreparedCursor(psycopg.Cursor[Any]):
    """psycopg's server-side-binding cursor, preparing every statement it executes."""

    def execute(
        self,
        query: Any,
        params: Any = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> "PreparedCursor":
        return super().execute(query, params, prepare=True, binary=binary)


def fetch_all(
    connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any], *, prepare: bool = True
) -> list[Any]:
    """All rows of `sql` (with %s placeholders, as Django compiles it) for `params`;
    a prepared statement on PostgreSQL unless `prepare` is False (then, as anywhere else,
    the ordinary cursor)."""
    connection = _wrapper(connection)
    if not prepare or connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    cursor = _prepared_cursor(connection)
    cursor.execute(sql, params)
    return cursor.fetchall()


def execute(connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any]) -> None:
    """Run `sql` (a write returning nothing) for `params`; a prepared statement on
    PostgreSQL. For the audit INSERT of every patient-data request: parsed and planned
    each time, it cost the PostgreSQL backend 0.17-0.22 ms of CPU; prepared, 0.12-0.14 ms
    (issue 16)."""
    connection = _wrapper(connection)
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    _prepared_cursor(connection).execute(sql, params)


def _wrapper(connection: BaseDatabaseWrapper) -> BaseDatabaseWrapper:
    """The connection itself for django.db.connection, a proxy that looks the thread's
    connection up again on each attribute read (~10 us each, issue 16)."""
    if type(connection) is ConnectionProxy:
        return connections[connection._alias]
    return connection


# The connection's PreparedCursor, kept on Django's connection wrapper (one per thread).
_KEPT = "_nexus_prepared_cursor"


def _prepared_cursor(connection: BaseDatabaseWrapper) -> Any:
    """Django's connection.cursor() (the same health check, connection and wrapper, so
    query logging and execute_wrappers see the statement), with psycopg's cursor a
    PreparedCursor that the connection keeps and reuses.

    A psycopg cursor keeps, for its own life, the dumpers it found for each parameter
    type and the loaders for each column type: a new cursor for every statement looked
    them all up again: ~0.05 ms of Python for each of the two statements of an API read
    (issue 16). Reusing one keeps that work. It is never closed (the wrapper is not used
    as a context manager) and holds only the last statement's rows until the next one; it
    belongs to one psycopg connection, so a new connection gets a new cursor."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = getattr(connection, _KEPT, None)
    if raw is None or raw.closed or raw.connection is not connection.connection:
        with connection.wrap_database_errors:
            raw = PreparedCursor(connection.connection)
            # As Django's create_cursor(): the cursor reads timestamps in the connection's
            # zone.
            tzloader = raw.adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT)
            if connection.timezone != getattr(tzloader, "timezone", None):
                register_tzloader(connection.timezone, raw)
        setattr(connection, _KEPT, raw)
    return connection._prepare_cursor(raw)  # type: ignore[attr-defined]
