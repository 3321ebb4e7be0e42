"""python manage.py import_filemaker: bring a practice over from FileMaker (issue 14).

Exit status 0 when every layout's outcomes add up to its foundCount, 1 otherwise."""

import json
import sys
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from integrations.filemaker.importer import DEFAULT_BATCH_SIZE, OUTCOMES, Options
from integrations.filemaker.mapping import MappingError
from integrations.filemaker.services import connection_from_env, import_filemaker, write_report
from integrations.filemaker.sources import SourceError
from nexus.errors import DomainError


class Command(BaseCommand):
    help = "Import a practice from FileMaker (Data API or OData), resumable and reconciled."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", choices=["data-api", "odata"], default="data-api")
        parser.add_argument(
            "--dry-run", action="store_true", help="Read and validate; write nothing."
        )
        parser.add_argument(
            "--resume", action="store_true", help="Continue the last unfinished run."
        )
        parser.add_argument(
            "--since", help="Only records modified after this timestamp (clinic time)."
        )
        parser.add_argument("--only", default="", help="Comma-separated layouts or kinds.")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
        parser.add_argument("--mapping", help="A mapping TOML file (default: the shipped one).")
        parser.add_argument("--report", help="Write the report as JSON here (and CSV beside it).")
        for name in ("url", "database", "username", "password"):
            parser.add_argument(
                f"--{name}", default="", help=f"Overrides FILEMAKER_{name.upper()}."
            )

    def handle(self, *args: Any, **opts: Any) -> None:
        since = None
        if opts["since"]:
            since = parse_datetime(opts["since"]) or _date_only(opts["since"])
            if since is None:
                raise CommandError("--since takes a timestamp such as 2026-11-28T18:00:00")
            since = since.replace(tzinfo=None)
        if opts["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        options = Options(
            source=opts["source"],
            dry_run=opts["dry_run"],
            resume=opts["resume"],
            since=since,
            only=tuple(p.strip() for p in opts["only"].split(",") if p.strip()),
            batch_size=opts["batch_size"],
        )
        progress = _progress_bar if sys.stderr.isatty() else None
        try:
            connection = connection_from_env(
                url=opts["url"],
                database=opts["database"],
                username=opts["username"],
                password=opts["password"],
            )
            run, report = import_filemaker(
                connection=connection,
                options=options,
                mapping_path=opts["mapping"],
                progress=progress,
            )
        except (DomainError, SourceError, MappingError) as error:
            raise CommandError(str(error)) from error
        if progress:
            sys.stderr.write("\n")
        if opts["report"]:
            write_report(report, opts["report"])
        self.stdout.write(_summary(report))
        if run is not None:
            self.stdout.write(f"Import run {run.pk}.")
        if not report["balanced"]:
            self.stderr.write("The counts do not add up to FileMaker's foundCount: see the report.")
            sys.exit(1)


def _date_only(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _progress_bar(layout: str, done: int, total: int, rate: float) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    eta = (total - done) / rate if rate else 0
    sys.stderr.write(
        f"\r{layout:<14} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
        f"{rate:,.0f} rec/s ETA {eta:,.0f}s   "
    )
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _summary(report: dict[str, Any]) -> str:
    lines = [("DRY RUN: nothing written. " if report.get("dry_run") else "") + "Reconciliation:"]
    for layout, state in report["layouts"].items():
        counts = " ".join(f"{o}={state[o]}" for o in OUTCOMES)
        lines.append(f"  {layout}: found={state['found_count']} {counts}")
        for reason, ids in sorted(state["rejected_ids"].items()):
            lines.append(f"    rejected {reason}: {len(ids)}")
    lines.append(json.dumps({"balanced": report["balanced"]}))
    return "\n".join(lines)
