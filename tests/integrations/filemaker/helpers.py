import hashlib
import json
from pathlib import Path
from typing import Any

from django.core.management import call_command

from appointments.models import Appointment, AppointmentType
from clinicians.models import Clinic, Clinician, Discipline
from documents.models import Document
from integrations.models import ImportedRecord
from notes.models import ClinicalNote
from patients.models import Coordinator, Patient, Referrer

# The columns that must come out the same however the import was run.
KEY_COLUMNS: dict[type, tuple[str, ...]] = {
    Clinic: ("legacy_id", "name", "timezone", "phone"),
    Clinician: ("legacy_id", "given_name", "family_name", "is_active", "listed_publicly"),
    Discipline: ("name",),
    Referrer: ("legacy_id", "name", "phone"),
    Coordinator: ("legacy_id", "name", "phone"),
    Patient: (
        "legacy_id",
        "given_name",
        "family_name",
        "date_of_birth",
        "phone",
        "medicare_number",
        "alerts",
        "home_clinic__legacy_id",
    ),
    Appointment: (
        "legacy_id",
        "patient__legacy_id",
        "clinician__legacy_id",
        "start",
        "end",
        "status",
        "imported_overlap",
        "appointment_type__name",
    ),
    AppointmentType: ("name",),
    # Not content_sha256 or row digests: they cover database ids, which differ between
    # databases; test_the_rows_come_over_as_nexus_expects checks the signatures verify.
    ClinicalNote: ("legacy_id", "patient__legacy_id", "status", "body", "signed_at", "created_at"),
    Document: ("legacy_id", "patient__legacy_id", "sha256", "size", "legacy_format", "category"),
    ImportedRecord: ("layout", "legacy_id", "source_digest", "merged"),
}


def snapshot() -> dict[str, tuple[int, str]]:
    """Row counts and a checksum of the key columns, per model."""
    result = {}
    for model, columns in KEY_COLUMNS.items():
        rows = sorted(str(row) for row in model.objects.values_list(*columns))
        result[model.__name__] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return result


def run_import(tmp_path: Path, *args: str, name: str = "report") -> dict[str, Any]:
    report = tmp_path / f"{name}.json"
    call_command("import_filemaker", "--report", str(report), *args)
    return json.loads(report.read_text())


def counts(report: dict[str, Any]) -> dict[str, dict[str, int]]:
    keys = ("found_count", "imported", "updated", "unchanged", "merged", "conflicts", "rejected")
    return {layout: {k: state[k] for k in keys} for layout, state in report["layouts"].items()}
