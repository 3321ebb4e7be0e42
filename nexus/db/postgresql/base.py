"""Django's PostgreSQL backend, with three per-request costs cut.

CONN_HEALTH_CHECKS skipped for a connection in use
--------------------------------------------------
With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request
to find a persistent connection that died while it sat unused (a server restart, a proxy's
or firewall's idle timeout). That costs every request a round trip: 0.14 ms of Python CPU
and about 0.5 ms of wall time on the 2-core machine (issue 16), for an API read of 3-6 ms.
A connection that started a query less than IDLE_SECONDS ago was alive then, and under
load every worker's connection is; so the check runs only after an idle spell, which is
when connections die unnoticed.

The trade: a connection lost within IDLE_SECONDS of its last query (the server restarted
mid-traffic) fails the worker's next request, as it would have failed the requests in
flight at that moment anyway; Django then closes it at the end of that request
(`close_if_unusable_or_obsolete`), so each worker loses at most one request. A failed
request shows nothing and commits nothing, so the audit stays complete.

Prepared statements planned once
--------------------------------
The reads nexus.db.prepared runs as prepared statements are planned once per connection
(`plan_cache_mode = force_generic_plan`, get_connection_params). Left to its own rule (a
generic plan once five custom ones cost no less), PostgreSQL kept re-planning the day
schedule and the calendar: ~1 ms of planning for a 0.15 ms read, 2.4 of the 3.2 ms the
database spent on a day schedule (issue 16). Their generic plans use the same indexes.

timestamptz columns read by psycopg's C loader
----------------------------------------------
Django registers its own loader for timestamptz (psycopg_any.register_tzloader): a Python
subclass of psycopg's pure-Python TimestamptzLoader, which parses each value with a regular
expression and then replaces its tzinfo with the connection's. Every datetime a page reads
went through it: 0.3-1 us of Python each, ~200 per day schedule. The other column types
(date, time, timestamp, numbers, text) already use psycopg_binary's C loaders.

When Django's zone for the connection is UTC (USE_TZ with no TIME_ZONE in DATABASES, as
here) it also sets the session's TimeZone to UTC, and psycopg's own timestamptz loader
then returns the same values Django's does: aware datetimes whose tzinfo is
`datetime.timezone.utc` itself. So, in that case only, the connection uses psycopg's loader
(the C one when psycopg_binary or psycopg_c is installed). tests/db/test_postgresql_backend.py
holds the two side by side.
"""

import datetime
import time
from functools import lru_cache
from typing import Any, cast

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base, operations
from django.db.backends.postgresql.psycopg_any import get_adapters_template
from psycopg.abc import AdaptContext, Loader
from psycopg.adapt import AdaptersMap
from psycopg.postgres import types as pg_types
from psycopg.pq import Format

from nexus.db.prepared import PreparedCursor

IDLE_SECONDS = 1.0
# psycopg's count of executions before it prepares a statement by itself: never, in effect.
PREPARE_ONLY_WHEN_ASKED = 2**31 - 1

_TIMESTAMPTZ_OID = pg_types["timestamptz"].oid
# psycopg's, registered for every built-in type: the C one with psycopg_binary or psycopg_c.
_PSYCOPG_TIMESTAMPTZ_LOADER = cast(
    "type[Loader]", psycopg.adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT)
)


class UtcTimestamptzLoader:
    """psycopg's own timestamptz loader (C when available), with the class attribute
    `timezone` that Django reads in create_cursor to decide whether a cursor needs a loader
    of its own. psycopg's C loaders cannot be subclassed, so this stands in for the class
    and builds one of them."""

    format = Format.TEXT
    timezone = datetime.UTC

    def __new__(cls, oid: int, context: AdaptContext | None = None) -> Loader:  # type: ignore[misc]
        return _PSYCOPG_TIMESTAMPTZ_LOADER(oid, context)


@lru_cache
def utc_adapters(use_tz: bool) -> AdaptersMap:
    """Django's adapters for a connection in UTC, with psycopg's timestamptz loader."""
    adapters = AdaptersMap(get_adapters_template(use_tz, datetime.UTC))
    adapters.register_loader(_TIMESTAMPTZ_OID, UtcTimestamptzLoader)  # type: ignore[arg-type]
    return adapters


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str:
        # psycopg keeps no query text for an execution of a prepared statement; the log
        # (DEBUG, assertNumQueries) shows it with its values, as Django does with
        # server-side binding.
        if isinstance(cursor, PreparedCursor):
            return cast("str", super().compose_sql(sql, params))
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    _query_started_at = float("-inf")

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if "prepare_threshold" not in self.settings_dict["OPTIONS"]:
            # Django turns psycopg's statement preparing off (None), which also ignores
            # prepare=True. This turns it back on for the statements asked for by name
            # (nexus.db.prepared) and only those: Django's cursors bind client-side and
            # never prepare.
            params["prepare_threshold"] = PREPARE_ONLY_WHEN_ASKED
        # The statements prepared here are the ones whose best plan does not depend on
        # their values (nexus.db.prepared): plan them once. Left to choose, PostgreSQL
        # re-planned the day schedule and the calendar on every execution (~1 ms each).
        # Django's own cursors bind client-side, so their queries carry no parameters
        # and are planned as before.
        options = params.get("options", "")
        params["options"] = f"{options} -c plan_cache_mode=force_generic_plan".strip()
        if self.timezone is datetime.UTC and self.timezone_name == "UTC":
            params["context"] = utc_adapters(settings.USE_TZ)
        return params

    def close_if_health_check_failed(self) -> None:
        # Django calls this before every cursor and transaction it opens on the connection.
        now = time.monotonic()
        if self.connection is not None and now - self._query_started_at < IDLE_SECONDS:
            self.health_check_done = True
        else:
            super().close_if_health_check_failed()
        self._query_started_at = now
