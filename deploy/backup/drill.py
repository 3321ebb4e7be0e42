"""`make restore-drill`: back up DATABASE_URL, restore it into `<database>_drill`, check
the copy, print RTO and RPO, drop the copy. Exit 0 only if every check passed.

Checks on the restored copy: no migration left to apply (`migrate --check`), the audit
trail's hash chain and MACs (`audit_verify`, with checkpoints kept in a scratch folder so
the drill never writes next to production's), and every table's row count equal to the
source's in the backup's own snapshot.

    RTO  restore + checks: how long until a restored database is known good
    RPO  age of the newest data in the copy when it was ready (the snapshot's time); in
         production the schedule bounds it: PITR about 5 minutes, nightly dumps 24 hours
"""

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from deploy.backup import pg

ROOT = Path(__file__).resolve().parents[2]


def manage(url: str, *args: str, scratch: Path) -> subprocess.CompletedProcess[str]:
    """manage.py against the restored copy, with documents and audit checkpoints pointed
    at a scratch folder: nothing the drill does reaches production's storage."""
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_MEDIA_ROOT": str(scratch),
        "AWS_STORAGE_BUCKET_NAME": "",
        "NEXUS_AUDIT_CHECKPOINT_BUCKET": "",
        "CELERY_BROKER_URL": "memory://",
    }
    return subprocess.run(  # noqa: S603 - manage.py with fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def drill(url: str) -> int:
    name = f"{pg.database_name(url)}_drill"
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="nexus-drill-") as folder:
        scratch = Path(folder)
        dump_file = scratch / "nexus.dump"
        snapshot = pg.dump(url, dump_file)
        print(
            f"backup: {len(snapshot.counts)} tables, {sum(snapshot.counts.values())} rows, "
            f"{snapshot.size_bytes / 1e6:.1f} MB in {snapshot.seconds:.1f}s "
            f"(snapshot {snapshot.taken_at:%Y-%m-%d %H:%M:%S %Z})"
        )
        started = time.monotonic()
        with pg.scratch_database(url, name) as copy:
            pg.restore(dump_file, copy)
            restored = time.monotonic() - started
            with psycopg.connect(pg.libpq_url(copy)) as connection:
                counts = pg.table_counts(connection)
            differ = {
                t: (n, counts.get(t)) for t, n in snapshot.counts.items() if counts.get(t) != n
            }
            if differ:
                failures.append(f"row counts differ (table: backup, restored): {differ}")
            for args, label in (
                # --skip-checks: the drill judges the data, not this host's mail settings.
                (("migrate", "--check", "--no-input", "--skip-checks"), "migrations"),
                (("audit_verify", "--skip-checks"), "audit trail"),
            ):
                result = manage(copy, *args, scratch=scratch / "storage")
                if result.returncode != 0:
                    # `migrate --check` says nothing when it fails: name the exit instead.
                    said = (result.stdout + result.stderr).strip()[-500:]
                    failures.append(f"{label}: {said or f'exit status {result.returncode}'}")
                else:
                    print(f"{label}: ok {result.stdout.strip()}".rstrip())
            rto = time.monotonic() - started
            rpo = (datetime.now(UTC) - snapshot.taken_at).total_seconds()
    print(
        f"restore into {name}: {restored:.1f}s; row counts: {len(differ) or 'all'} "
        f"{'differ' if differ else 'equal'}"
    )
    print(f"RTO {rto:.1f}s (restore and checks)")
    print(f"RPO {rpo:.1f}s (age of the restored data when it was ready)")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        print("set DATABASE_URL to the PostgreSQL database to drill", file=sys.stderr)
        return 2
    return drill(url)


if __name__ == "__main__":
    sys.exit(main())
