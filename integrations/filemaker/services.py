"""Starting, resuming and reporting a FileMaker import: what the management command, the
Celery task and the Imports page call."""

import csv
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from integrations.filemaker.importer import Importer, Options, ProgressFn, iter_outcomes
from integrations.filemaker.mapping import load_mapping
from integrations.filemaker.sources import Connection, SourceError, open_source
from integrations.models import ImportRun
from nexus.errors import Conflict, ValidationFailed


def connection_from_env(**overrides: Any) -> Connection:
    """FILEMAKER_URL (scheme, host, port), FILEMAKER_DATABASE, FILEMAKER_USERNAME,
    FILEMAKER_PASSWORD; FILEMAKER_CA_BUNDLE names a CA file for a private certificate."""
    values = {
        "url": os.environ.get("FILEMAKER_URL", ""),
        "database": os.environ.get("FILEMAKER_DATABASE", ""),
        "username": os.environ.get("FILEMAKER_USERNAME", ""),
        "password": os.environ.get("FILEMAKER_PASSWORD", ""),
    }
    values.update({k: str(v) for k, v in overrides.items() if v})
    missing = [k for k in ("url", "database", "username", "password") if not values[k]]
    if missing:
        raise ValidationFailed(
            "FileMaker connection incomplete: set "
            + ", ".join(f"FILEMAKER_{m.upper()}" for m in missing)
        )
    return Connection(
        url=values["url"].rstrip("/"),
        database=values["database"],
        username=values["username"],
        password=values["password"],
        verify=os.environ.get("FILEMAKER_CA_BUNDLE") or True,
    )


def import_filemaker(
    *,
    connection: Connection,
    options: Options,
    mapping_path: str | None = None,
    started_by_id: int | None = None,
    run_id: int | None = None,
    progress: ProgressFn | None = None,
) -> tuple[ImportRun | None, dict[str, Any]]:
    """Run (or, with options.resume / run_id, continue) an import and return its run and
    reconciliation report. A dry run writes nothing: every row it makes is rolled back,
    so its counts are those a real run would report."""
    mapping = load_mapping(mapping_path)
    run = None
    if not options.dry_run:
        run = _run_for(options, started_by_id=started_by_id, run_id=run_id)
    try:
        source = open_source(options.source, connection)
    except SourceError as error:
        _fail(run, str(error))
        raise
    try:
        if options.dry_run:
            with transaction.atomic():
                report = Importer(
                    source=source, mapping=mapping, options=options, run=None, progress=progress
                ).run_all()
                transaction.set_rollback(True)
        else:
            report = Importer(
                source=source, mapping=mapping, options=options, run=run, progress=progress
            ).run_all()
    except SourceError as error:
        _fail(run, str(error))
        raise
    finally:
        source.close()
    report["dry_run"] = options.dry_run
    report["source"] = options.source
    if run is not None:
        run.status = ImportRun.Status.FINISHED
        run.balanced = report["balanced"]
        run.report = report
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "balanced", "report", "finished_at"])
    return run, report


def _run_for(options: Options, *, started_by_id: int | None, run_id: int | None) -> ImportRun:
    if run_id is not None:
        return ImportRun.objects.get(pk=run_id)
    if options.resume:
        run = (
            ImportRun.objects.filter(status__in=[ImportRun.Status.RUNNING, ImportRun.Status.FAILED])
            .order_by("-started_at", "-id")
            .first()
        )
        if run is None:
            raise Conflict("There is no unfinished import to resume.")
        run.status, run.error = ImportRun.Status.RUNNING, ""
        run.save(update_fields=["status", "error"])
        return run
    saved = asdict(options)
    saved["since"] = options.since.isoformat() if options.since else None
    return ImportRun.objects.create(
        source=options.source, options=saved, started_by_id=started_by_id
    )


def _fail(run: ImportRun | None, error: str) -> None:
    if run is not None:
        run.status, run.error = ImportRun.Status.FAILED, error[:300]
        run.save(update_fields=["status", "error"])


def write_report(report: dict[str, Any], path: str | Path) -> tuple[Path, Path]:
    """The report as JSON at exactly `path`, and as CSV beside it (same name, .csv)."""
    json_path = Path(path)
    csv_path = json_path.with_suffix(".csv")
    json_path.write_text(json.dumps(report, indent=2, sort_keys=True))
    with csv_path.open("w", newline="") as handle:
        write_report_csv(report, handle)
    return json_path, csv_path


def write_report_csv(report: dict[str, Any], handle: Any) -> None:
    writer = csv.writer(handle)
    writer.writerow(["layout", "outcome", "reason", "legacy_id"])
    for layout, state in report.get("layouts", {}).items():
        for outcome in (
            "found_count",
            "imported",
            "updated",
            "unchanged",
            "merged",
            "conflicts",
            "rejected",
        ):
            writer.writerow([layout, outcome, "count", state.get(outcome, 0)])
    for row in iter_outcomes(report):
        writer.writerow(row)
