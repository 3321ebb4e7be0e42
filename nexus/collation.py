"""Whether the database sorts text in code-point order, asked once per database.

A query that must sort in the database's collation can only let an index on
`expr COLLATE "C"` supply that order when the two orders are the same. They are on
PostgreSQL databases created with the C, POSIX or C.UTF-8 locale, not under en_US.UTF-8
(which ignores punctuation at first) or ICU; SQLite compares text by code point.

The answer is asked when a connection opens (nexus/apps.py), never in the middle of a
request, so it adds no query to any page.
"""

from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

_CODE_POINT_LOCALES = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8"})
_answers: dict[str, bool] = {}
_ASK = "SELECT datlocprovider, datcollate FROM pg_database WHERE datname = current_database()"
_ASK_BEFORE_15 = "SELECT 'c', datcollate FROM pg_database WHERE datname = current_database()"


def _ask(connection: BaseDatabaseWrapper) -> bool:
    if connection.vendor == "sqlite":
        return True
    if connection.vendor != "postgresql":
        return False
    # Before PostgreSQL 15 every database used the C library's collation.
    modern = connection.pg_version >= 150000  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute(_ASK if modern else _ASK_BEFORE_15)
        row = cursor.fetchone()
    return row is not None and row[0] == "c" and row[1] in _CODE_POINT_LOCALES


def remember_collation(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """connection_created receiver: ask once per database alias and process."""
    if connection.alias not in _answers:
        _answers[connection.alias] = _ask(connection)


def database_orders_by_code_point(using: str) -> bool:
    if using not in _answers:
        connection = connections[using]
        connection.ensure_connection()  # opening it asks
        if using not in _answers:  # opened before the receiver was connected
            _answers[using] = _ask(connection)
    return _answers[using]
