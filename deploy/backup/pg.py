"""PostgreSQL backups in pg_dump's custom format, shared by the backup command and the
restore drill. Everything is read from DATABASE_URL; nothing here needs Django."""

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


def libpq_url(url: str) -> str:
    """DATABASE_URL as libpq reads it (Django's "postgis://" / "pgsql://" aliases too)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql", "postgis"):
        raise ValueError("DATABASE_URL is not a PostgreSQL database")
    return urlunsplit(parts._replace(scheme="postgresql"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@dataclass
class Snapshot:
    """A consistent view of the source: pg_dump reads exactly what was counted."""

    taken_at: datetime
    counts: dict[str, int]
    seconds: float
    size_bytes: int


def table_counts(connection: psycopg.Connection) -> dict[str, int]:
    tables = connection.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    ).fetchall()
    return {
        name: connection.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))
        ).fetchone()[0]  # type: ignore[index]
        for (name,) in tables
    }


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: install postgresql-client")
    return found


def dump(url: str, target: Path) -> Snapshot:
    """pg_dump --format=custom of the database, counting every table's rows in the same
    snapshot (an exported REPEATABLE READ snapshot that pg_dump then reads)."""
    started = time.monotonic()
    with psycopg.connect(libpq_url(url)) as connection:
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot_id, taken_at = connection.execute("SELECT pg_export_snapshot(), now()").fetchone()  # type: ignore[misc]
        counts = table_counts(connection)
        subprocess.run(  # noqa: S603 - pg_dump with fixed options
            [
                tool("pg_dump"),
                "--format=custom",
                "--compress=6",
                f"--snapshot={snapshot_id}",
                f"--file={target}",
                f"--dbname={libpq_url(url)}",
            ],
            check=True,
        )
        connection.execute("COMMIT")
    return Snapshot(taken_at, counts, time.monotonic() - started, target.stat().st_size)


@contextmanager
def scratch_database(url: str, name: str) -> Iterator[str]:
    """A new, empty database next to the source, dropped again afterwards."""
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(url, name)
    finally:
        with psycopg.connect(libpq_url(url), autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def restore(source: Path, url: str, jobs: int = 2) -> None:
    """pg_restore into an empty database. Owners and grants are left out: the scratch
    database belongs to whoever runs the drill (a real restore re-applies audit_app_role)."""
    subprocess.run(  # noqa: S603 - pg_restore with fixed options
        [
            tool("pg_restore"),
            "--exit-on-error",
            "--no-owner",
            "--no-acl",
            f"--jobs={jobs}",
            f"--dbname={libpq_url(url)}",
            str(source),
        ],
        check=True,
    )
