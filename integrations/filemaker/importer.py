"""The FileMaker import (issue 14): layouts in reference order, a batch at a time.

Each batch is one transaction: the new rows (bulk_create), the updated ones, their
ImportedRecord rows, one audit event for the batch, and the layout's checkpoint (offset and
counts so far). A run killed anywhere loses at most the batch in flight, and `resume`
continues from the last committed checkpoint with the counts it had, so it ends with the
same rows and the same report as a run that was never interrupted.

Every source record ends in exactly one outcome: imported (a new Nexus row), updated,
unchanged, merged (into a named existing row), conflict (edited in Nexus since the last
import: not overwritten) or rejected (with a reason). Warnings (a value blanked, a time
moved off a daylight-saving gap...) come on top, so nothing changes silently. Reasons and
legacy ids go in the report; no field value ever does, and logs carry counts only.
"""

import bisect
import hashlib
import json
import time as monotonic_clock
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import PurePath
from typing import Any

import filetype
import structlog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Count
from django.utils import timezone

from appointments.models import MAX_APPOINTMENT_LENGTH, Appointment, AppointmentType
from audit.models import AuditEvent
from audit.services import Target, audit_record
from clinicians.models import Clinic, Clinician, Discipline
from documents.models import Document, document_key
from documents.validation import ALLOWED_TYPES
from integrations.filemaker.mapping import (
    LayoutMap,
    Mapping,
    Unconvertible,
    convert_field,
    date_warning,
    localize,
)
from integrations.filemaker.pgcopy import allocate_ids, copy_insert, copy_rows, uses_copy
from integrations.filemaker.sources import Container, MissingBytes, Source
from integrations.models import ImportCheckpoint, ImportedRecord, ImportRun
from nexus.fields import PhoneNumberField
from notes.models import ClinicalNote
from patients.chart import chart_changed
from patients.models import AustralianState, Coordinator, Patient, Referrer

log = structlog.get_logger(__name__)

DEFAULT_BATCH_SIZE = 2_000
DOCUMENT_BATCH_SIZE = 200
DOCUMENT_WORKERS = 8
IMPORT_USER_EMAIL = "filemaker-import@nexus.invalid"
OUTCOMES = ("imported", "updated", "unchanged", "merged", "conflicts", "rejected")


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Merged(Exception):
    """The record is one Nexus holds already: `object_id`, or (0) the row this batch
    makes for the legacy id `into`."""

    def __init__(self, reason: str, object_id: int, into: str) -> None:
        super().__init__(reason)
        self.reason, self.object_id, self.into = reason, object_id, into


def empty_state(found_count: int) -> dict[str, Any]:
    return {
        "found_count": found_count,
        **dict.fromkeys(OUTCOMES, 0),
        "rejected_ids": {},
        "merged_ids": {},
        "conflict_ids": [],
        "warnings": {},
        "merge_candidates": [],
    }


def balanced(state: dict[str, Any]) -> bool:
    return sum(state[o] for o in OUTCOMES) == state["found_count"]


def _canon(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def digest(values: dict[str, Any]) -> str:
    canonical = json.dumps(
        {k: _canon(v) for k, v in sorted(values.items())}, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Prepared:
    """A source record made ready for Nexus: model field values (by attname), what the
    row digest covers, and anything the kind does after insert."""

    legacy_id: str
    source_digest: str
    values: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Options:
    source: str = "data-api"
    dry_run: bool = False
    only: tuple[str, ...] = ()
    since: datetime | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    resume: bool = False


ProgressFn = Callable[[str, int, int, float], None]


def _add(state: dict[str, Any], bucket: str, reason: str, legacy_id: str) -> None:
    state[bucket].setdefault(reason, []).append(legacy_id)


class Importer:
    def __init__(
        self,
        *,
        source: Source,
        mapping: Mapping,
        options: Options,
        run: ImportRun | None,
        progress: ProgressFn | None = None,
    ) -> None:
        self.source = source
        self.mapping = mapping
        self.options = options
        self.run = run
        self.progress = progress
        self.refs: dict[str, dict[str, int]] = {}
        self.import_user = _import_user()
        self.now = timezone.now()
        self.default_tz = zoneinfo.ZoneInfo(mapping.default_timezone)
        self.practice_tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)

    # -- references -----------------------------------------------------------------
    def ref_map(self, layout: str) -> dict[str, int]:
        if layout not in self.refs:
            self.refs[layout] = dict(
                ImportedRecord.objects.filter(layout=layout).values_list("legacy_id", "object_id")
            )
        return self.refs[layout]

    def resolve(self, lm: LayoutMap, target: str, legacy: str, *, required: bool) -> int | None:
        spec = lm.field_for(target)
        if not legacy or spec is None:
            if required:
                raise Rejected(f"missing_{target}")
            return None
        object_id = self.ref_map(spec.layout).get(legacy)
        if object_id is None and required:
            raise Rejected(f"orphan_{target}")
        return object_id

    # -- the run ---------------------------------------------------------------------
    def run_all(self) -> dict[str, Any]:
        report: dict[str, Any] = {"layouts": {}}
        for lm in self.mapping.layouts:
            if (
                self.options.only
                and lm.kind not in self.options.only
                and lm.layout not in self.options.only
            ):
                continue
            report["layouts"][lm.layout] = self.run_layout(lm)
        report["balanced"] = all(balanced(s) for s in report["layouts"].values())
        return report

    def _checkpoint(self, lm: LayoutMap) -> ImportCheckpoint | None:
        if self.run is None:
            return None
        checkpoint, _ = ImportCheckpoint.objects.get_or_create(run=self.run, layout=lm.layout)
        return checkpoint

    def run_layout(self, lm: LayoutMap) -> dict[str, Any]:
        checkpoint = self._checkpoint(lm)
        since = (lm.modified, self.options.since) if self.options.since and lm.modified else None
        if checkpoint is not None and checkpoint.state:
            state, offset = checkpoint.state, checkpoint.offset
            if checkpoint.done:
                return state
        else:
            state = empty_state(self.source.found_count(lm.layout, key=lm.key, since=since))
            offset = 0
        handler = KINDS[lm.kind](self, lm)
        batch_size = DOCUMENT_BATCH_SIZE if lm.kind == "documents" else self.options.batch_size
        started = monotonic_clock.monotonic()
        first_offset = offset
        while offset < state["found_count"]:
            rows = self.source.page(
                lm.layout, key=lm.key, offset=offset, limit=batch_size, since=since
            )
            if not rows:
                break  # the source holds fewer than it counted: the report will not add up
            with transaction.atomic():
                handler.process(rows, state, offset)
                # Bulk inserts and updates send no signals: cached charts would not know.
                chart_changed()
                offset += len(rows)
                self._audit(lm, state, len(rows))
                if checkpoint is not None:
                    checkpoint.offset, checkpoint.state = offset, state
                    checkpoint.save(update_fields=["offset", "state", "updated_at"])
            if self.progress:
                rate = (offset - first_offset) / max(monotonic_clock.monotonic() - started, 1e-6)
                self.progress(lm.layout, offset, state["found_count"], rate)
        with transaction.atomic():
            handler.finish(state)
            if checkpoint is not None:
                checkpoint.done, checkpoint.state, checkpoint.offset = True, state, offset
                checkpoint.save(update_fields=["done", "state", "offset", "updated_at"])
        log.info(
            "filemaker.layout_done",
            layout=lm.layout,
            found=state["found_count"],
            **{o: state[o] for o in OUTCOMES},
        )
        return state

    def _audit(self, lm: LayoutMap, state: dict[str, Any], rows: int) -> None:
        # One event per batch, not per row (issue 14 item 6); counts only, never content.
        if self.options.dry_run:
            return
        target = Target("integrations.importrun", str(self.run.pk if self.run else ""), None)
        audit_record(
            request=None,
            action=AuditEvent.Action.CREATE,
            targets=[target],
            detail={
                "view": "import_filemaker",
                "layout": lm.layout,
                "batch_rows": rows,
                "actor": self.run.started_by_id if self.run else None,
            },
        )


def _record_imports(layout: str, records: list[tuple[str, int, str, str]]) -> None:
    """ImportedRecord rows for new imports: (legacy id, object id, source and row digests)."""
    now = timezone.now()
    if uses_copy():
        columns = ["layout", "legacy_id", "object_id", "source_digest", "row_digest", "merged"]
        copy_rows(
            ImportedRecord._meta.db_table,
            [*columns, "imported_at", "updated_at"],
            ((layout, *record, False, now, now) for record in records),
        )
        return
    ImportedRecord.objects.bulk_create(
        ImportedRecord(
            layout=layout, legacy_id=legacy, object_id=pk, source_digest=source, row_digest=row
        )
        for legacy, pk, source, row in records
    )


def _import_user() -> Any:
    """The author of record for imported documents and notes whose FileMaker author has no
    Nexus account: never able to sign in (inactive, no usable password)."""
    user_model = get_user_model()
    user = user_model.objects.filter(email=IMPORT_USER_EMAIL).first()
    if user is None:
        user = user_model(email=IMPORT_USER_EMAIL, full_name="FileMaker import", is_active=False)
        user.set_unusable_password()
        user.save()
    return user


class Kind:
    """How one kind of layout becomes Nexus rows. Subclasses set `model` and implement
    `build` (source values -> model values) and may add `after_insert`/`finish`."""

    model: type[models.Model]
    # Fields a later run compares to detect edits made in Nexus.
    validate_exclude: tuple[str, ...] = ()

    def __init__(self, importer: Importer, lm: LayoutMap) -> None:
        self.importer = importer
        self.lm = lm
        self.seen: set[str] = set()

    # -- conversion --------------------------------------------------------------------
    def convert(self, row: dict[str, Any]) -> tuple[dict[str, Any], list[str], dict[str, str]]:
        values: dict[str, Any] = {}
        warnings: list[str] = []
        invalid: dict[str, str] = {}
        for spec in self.lm.fields:
            raw = row.get(spec.source, "")
            try:
                values[spec.to] = convert_field(spec, raw)
                if spec.convert == "date" and (note := date_warning(raw)):
                    warnings.append(note)
            except Unconvertible as problem:
                if spec.required:
                    raise Rejected(problem.reason) from None
                warnings.append(problem.reason)
                invalid[spec.source] = str(raw)
                values[spec.to] = None
            if spec.required and values[spec.to] in (None, "", []):
                raise Rejected(f"missing_{spec.to}")
        return values, warnings, invalid

    def build(
        self, legacy_id: str, values: dict[str, Any], invalid: dict[str, str]
    ) -> dict[str, Any]:
        raise NotImplementedError

    def source_digest(self, row: dict[str, Any]) -> str:
        # FileMaker's values are JSON already (text and numbers).
        fields = {k: v for k, v in row.items() if k not in {"recordId", "modId"}}
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    # -- the batch ---------------------------------------------------------------------
    def process(self, rows: list[dict[str, Any]], state: dict[str, Any], offset: int) -> None:
        layout = self.lm.layout
        prepared: list[Prepared] = []
        for position, row in enumerate(rows):
            legacy_id = str(row.get(self.lm.key, "") or "").strip()
            if not legacy_id:
                state["rejected"] += 1
                _add(state, "rejected_ids", "missing_key", f"#{offset + position + 1}")
                continue
            if legacy_id in self.seen:
                state["rejected"] += 1
                _add(state, "rejected_ids", "duplicate_key", legacy_id)
                continue
            self.seen.add(legacy_id)
            prepared.append(Prepared(legacy_id, self.source_digest(row), {}, extra={"row": row}))
        existing = {
            r.legacy_id: r
            for r in ImportedRecord.objects.filter(
                layout=layout, legacy_id__in=[p.legacy_id for p in prepared]
            )
        }
        new: list[Prepared] = []
        changed: list[tuple[Prepared, ImportedRecord]] = []
        merges: list[tuple[Prepared, Merged]] = []
        for item in prepared:
            record = existing.get(item.legacy_id)
            if record is not None and record.source_digest == item.source_digest:
                state["unchanged"] += 1
                continue
            try:
                values, warnings, invalid = self.convert(item.extra["row"])
                item.values = self.build(item.legacy_id, values, invalid)
                item.warnings = warnings
                if record is None:
                    self.check_merge(item)
            except Rejected as rejection:
                state["rejected"] += 1
                _add(state, "rejected_ids", rejection.reason, item.legacy_id)
                continue
            except Merged as merge:
                merges.append((item, merge))
                continue
            if record is None:
                new.append(item)
            else:
                changed.append((item, record))
        self.insert(new, state)
        self.update(changed, state)
        self.merge(merges, state)

    def merge(self, merges: list[tuple[Prepared, "Merged"]], state: dict[str, Any]) -> None:
        refs = self.importer.ref_map(self.lm.layout)
        records = []
        for item, merge in merges:
            object_id = merge.object_id or refs.get(merge.into)
            if object_id is None:  # what it duplicates was itself rejected
                state["rejected"] += 1
                _add(state, "rejected_ids", f"{merge.reason}_of_rejected", item.legacy_id)
                continue
            state["merged"] += 1
            _add(state, "merged_ids", merge.reason, item.legacy_id)
            refs[item.legacy_id] = object_id
            records.append(
                ImportedRecord(
                    layout=self.lm.layout,
                    legacy_id=item.legacy_id,
                    object_id=object_id,
                    source_digest=item.source_digest,
                    row_digest="",
                    merged=True,
                )
            )
        ImportedRecord.objects.bulk_create(records)

    def check_merge(self, item: Prepared) -> None:
        """Raise Merged when this record is one that already exists in Nexus."""

    def digest_fields(self, item: Prepared) -> dict[str, Any]:
        return {k: v for k, v in item.values.items() if not k.startswith("_")}

    def instantiate(self, item: Prepared) -> models.Model:
        item.warnings += item.values.pop("_warnings", [])
        return self.model(
            **{k: v for k, v in item.values.items() if not k.startswith("_")},
            legacy_id=item.legacy_id,
        )

    def validate(self, obj: models.Model, item: Prepared) -> None:
        # The model's own field validators (the same ones the forms run), without the
        # per-row queries: foreign keys were resolved from ImportedRecord, and legacy ids
        # are unique by it.
        # Phone numbers were parsed and checked by the converter with the same library and
        # rule (phonenumbers.is_valid_number) as the field's validator.
        skip = [
            f.name
            for f in self.model._meta.concrete_fields
            if f.is_relation or isinstance(f, PhoneNumberField)
        ]
        try:
            obj.clean_fields(exclude=[*self.validate_exclude, *skip, "legacy_id"])
        except ValidationError as error:
            raise Rejected(f"invalid_{sorted(error.message_dict)[0]}") from None

    def insert(self, items: list[Prepared], state: dict[str, Any]) -> None:
        objects: list[models.Model] = []
        kept: list[Prepared] = []
        for item in items:
            obj = self.instantiate(item)
            try:
                self.validate(obj, item)
            except Rejected as rejection:
                state["rejected"] += 1
                _add(state, "rejected_ids", rejection.reason, item.legacy_id)
                continue
            for warning in item.warnings:
                _add(state, "warnings", warning, item.legacy_id)
            objects.append(obj)
            kept.append(item)
        if not objects:
            return
        allocate_ids(self.model, objects)  # PostgreSQL: ids before the insert, for COPY
        self.before_insert(objects, kept)
        copy_insert(self.model, objects)
        self.after_insert(objects, kept)
        records = [
            (item.legacy_id, obj.pk, item.source_digest, digest(self.digest_fields(item)))
            for obj, item in zip(objects, kept, strict=True)
        ]
        _record_imports(self.lm.layout, records)
        refs = self.importer.ref_map(self.lm.layout)
        for legacy_id, object_id, _, _ in records:
            refs[legacy_id] = object_id
        state["imported"] += len(objects)

    def before_insert(self, objects: list[Any], items: list[Prepared]) -> None:
        """Work on validated rows about to be inserted (storing documents' bytes)."""

    def after_insert(self, objects: list[Any], items: list[Prepared]) -> None:
        """Work that needs the new rows' ids (many-to-many rows, signatures)."""

    def update(self, changed: list[tuple[Prepared, ImportedRecord]], state: dict[str, Any]) -> None:
        if not changed:
            return
        field_names = sorted({k for item, _ in changed for k in self.digest_fields(item)})
        current = {
            row["pk"]: row
            for row in self.model._default_manager.filter(
                pk__in=[r.object_id for _, r in changed]
            ).values("pk", *field_names)
        }
        to_save: list[models.Model] = []
        for item, record in changed:
            row = current.get(record.object_id)
            if record.merged or row is None:
                state["unchanged" if record.merged else "rejected"] += 1
                if row is None and not record.merged:
                    _add(state, "rejected_ids", "deleted_in_nexus", item.legacy_id)
                continue
            before = {k: row[k] for k in self.digest_fields(item)}
            if digest(before) != record.row_digest or not self.may_update(row):
                state["conflicts"] += 1
                state["conflict_ids"].append(item.legacy_id)
                continue
            obj = self.instantiate(item)
            obj.pk = record.object_id
            try:
                self.validate(obj, item)
            except Rejected as rejection:
                state["rejected"] += 1
                _add(state, "rejected_ids", rejection.reason, item.legacy_id)
                continue
            for warning in item.warnings:
                _add(state, "warnings", warning, item.legacy_id)
            to_save.append(obj)
            record.source_digest = item.source_digest
            record.row_digest = digest(self.digest_fields(item))
            state["updated"] += 1
        if to_save:
            self.model._default_manager.bulk_update(to_save, field_names)
            ImportedRecord.objects.bulk_update(
                [r for _, r in changed], ["source_digest", "row_digest", "updated_at"]
            )

    def may_update(self, row: dict[str, Any]) -> bool:
        return True

    def finish(self, state: dict[str, Any]) -> None:
        """After the last batch (and again on resume): layout-wide findings."""


# -- the kinds ------------------------------------------------------------------------


def _join(*parts: Any) -> str:
    return " ".join(str(p) for p in parts if p)


class Clinics(Kind):
    model = Clinic

    def build(self, legacy_id: str, v: dict[str, Any], invalid: dict[str, str]) -> dict[str, Any]:
        locality = _join(v.get("suburb"), v.get("state"), v.get("postcode"))
        return {
            "name": v["name"][:120],
            "address": ", ".join(p for p in (v.get("address"), locality) if p)[:250],
            "phone": v.get("phone") or "",
            "timezone": v.get("timezone") or self.importer.mapping.default_timezone,
        }

    def check_merge(self, item: Prepared) -> None:
        existing = Clinic.objects.filter(name__iexact=item.values["name"]).first()
        if existing is not None:
            raise Merged("same_name", existing.pk, existing.legacy_id or str(existing.pk))


class Practitioners(Kind):
    model = Clinician

    def __init__(self, importer: Importer, lm: LayoutMap) -> None:
        super().__init__(importer, lm)
        self.disciplines = {
            " ".join(d.name.split()).casefold(): d for d in Discipline.objects.all()
        }

    def build(self, legacy_id: str, v: dict[str, Any], invalid: dict[str, str]) -> dict[str, Any]:
        clinic_refs = self.importer.ref_map(self.importer.mapping.layout_of_kind("clinics"))
        clinics = sorted({clinic_refs[c] for c in v.get("clinics") or [] if c in clinic_refs})
        warnings = ["unknown_clinic"] if len(clinics) < len(set(v.get("clinics") or [])) else []
        discipline = " ".join((v.get("discipline") or "").split())
        values = {
            "title": (v.get("title") or "")[:20],
            "given_name": v["given_name"][:80],
            "family_name": v["family_name"][:80],
            "provider_number": (v.get("provider_number") or "")[:12],
            "is_active": bool(v.get("is_active")),
            # Imported clinicians are never listed publicly until the practice says so.
            "listed_publicly": False,
            "_clinics": clinics,
            "_discipline": discipline,
            "_warnings": warnings,
        }
        return values

    def discipline(self, name: str) -> Discipline | None:
        if not name:
            return None
        key = name.casefold()
        if key not in self.disciplines:
            self.disciplines[key] = Discipline.objects.create(name=name[:80])
        return self.disciplines[key]

    def after_insert(self, objects: list[Any], items: list[Prepared]) -> None:
        clinic_links, discipline_links = [], []
        for obj, item in zip(objects, items, strict=True):
            clinic_links += [
                Clinician.clinics.through(clinician_id=obj.pk, clinic_id=c)
                for c in item.values["_clinics"]
            ]
            discipline = self.discipline(item.values["_discipline"])
            if discipline is not None:
                discipline_links.append(
                    Clinician.disciplines.through(clinician_id=obj.pk, discipline_id=discipline.pk)
                )
        Clinician.clinics.through.objects.bulk_create(clinic_links)
        Clinician.disciplines.through.objects.bulk_create(discipline_links)


class Referrers(Kind):
    model = Referrer

    def build(self, legacy_id: str, v: dict[str, Any], invalid: dict[str, str]) -> dict[str, Any]:
        return {
            "name": v["name"][:150],
            "practice_name": (v.get("practice_name") or "")[:150],
            "provider_number": (v.get("provider_number") or "")[:12],
            "phone": v.get("phone") or "",
            "fax": v.get("fax") or "",
            "email": v.get("email") or "",
            "address": (v.get("address") or "")[:250],
        }


class Coordinators(Kind):
    model = Coordinator

    def build(self, legacy_id: str, v: dict[str, Any], invalid: dict[str, str]) -> dict[str, Any]:
        return {
            "name": v["name"][:150],
            "organisation": (v.get("organisation") or "")[:150],
            "phone": v.get("phone") or "",
            "email": v.get("email") or "",
        }


class Clients(Kind):
    model = Patient
    # Fields whose invalid value is blanked (and kept in the alerts) rather than losing the
    # patient: the patient's record matters more than one bad number.
    SOFT = (
        "medicare_number",
        "ndis_number",
        "dva_number",
        "postcode",
        "state",
        "medicare_irn",
        "date_of_birth",
    )

    def build(self, legacy_id: str, v: dict[str, Any], invalid: dict[str, str]) -> dict[str, Any]:
        kept = [f"{name}: {raw}" for name, raw in invalid.items() if raw.strip()]
        warnings: list[str] = []
        phone = v.get("phone") or v.get("home_phone") or ""
        if v.get("phone") and v.get("home_phone") and v["home_phone"] != v["phone"]:
            kept.append(f"HomePhone: {v['home_phone']}")
        dob = v.get("date_of_birth")
        if dob and dob > timezone.localdate():
            warnings.append("future_date_of_birth")
            kept.append(f"DOB: {dob:%d/%m/%Y}")
            dob = None
        irn = v.get("medicare_irn") or ""
        if (irn and irn not in "123456789") or len(irn) > 1:
            warnings.append("invalid_medicare_irn")
            kept.append(f"MedicareIRN: {irn}")
            irn = ""
        state = (v.get("state") or "").upper()
        if state and state not in AustralianState.values:
            warnings.append("invalid_state")
            kept.append(f"State: {state}")
            state = ""
        values = {
            "given_name": v["given_name"][:80],
            "family_name": v["family_name"][:80],
            "preferred_name": (v.get("preferred_name") or "")[:80],
            "date_of_birth": dob,
            "sex": v.get("sex") or Patient.Sex.NOT_STATED,
            "phone": phone,
            "email": v.get("email") or "",
            "address": (v.get("address") or "")[:250],
            "suburb": (v.get("suburb") or "")[:80],
            "state": state,
            "postcode": v.get("postcode") or "",
            "medicare_number": v.get("medicare_number") or "",
            "medicare_irn": irn,
            "ndis_number": v.get("ndis_number") or "",
            # Not cut to length here: the field normalises first ("NX 123 456" is 8 long).
            "dva_number": v.get("dva_number") or "",
            "funding_type": v.get("funding_type") or Patient.Funding.PRIVATE,
            "referrer_id": self.importer.resolve(
                self.lm, "referrer", v.get("referrer") or "", required=False
            ),
            "coordinator_id": self.importer.resolve(
                self.lm, "coordinator", v.get("coordinator") or "", required=False
            ),
            "home_clinic_id": self.importer.resolve(
                self.lm, "home_clinic", v.get("home_clinic") or "", required=False
            ),
            "alerts": v.get("alerts") or "",
            "sms_consent": bool(v.get("sms_consent")),
            "archived": bool(v.get("archived")),
            "_kept": kept,
            "_warnings": warnings,
        }
        for target in ("referrer", "coordinator", "home_clinic"):
            if v.get(target) and values[f"{target}_id"] is None:
                warnings.append(f"unknown_{target}")
        return values

    def instantiate(self, item: Prepared) -> models.Model:
        values = item.values
        kept = values.pop("_kept", [])
        obj = super().instantiate(item)
        # Soft fields that fail the model's validators: blanked, the original kept.
        try:
            obj.clean_fields(
                exclude=[f.name for f in Patient._meta.fields if f.name not in self.SOFT]
            )
        except ValidationError as error:
            for name in error.message_dict:
                item.warnings.append(f"invalid_{name}")
                kept.append(f"{name}: {getattr(obj, name)}")
                empty = None if Patient._meta.get_field(name).null else ""  # date_of_birth
                setattr(obj, name, empty)
                values[name] = empty
        if kept:
            note = "Kept from FileMaker (not valid in Nexus): " + "; ".join(kept)
            values["alerts"] = f"{values.get('alerts') or ''}\n{note}".strip()
            obj.alerts = values["alerts"]  # type: ignore[attr-defined]
        return obj

    def validate(self, obj: models.Model, item: Prepared) -> None:
        super().validate(obj, item)
        try:
            obj.clean()
        except ValidationError as error:
            raise Rejected(f"invalid_{sorted(error.message_dict)[0]}") from None

    def finish(self, state: dict[str, Any]) -> None:
        # Same name and date of birth, different ClientID: a human decides; nothing merged.
        layout = self.lm.layout
        legacy = dict(
            ImportedRecord.objects.filter(layout=layout, merged=False).values_list(
                "object_id", "legacy_id"
            )
        )
        groups: dict[tuple[str, str, Any], list[str]] = defaultdict(list)
        rows = Patient.objects.filter(pk__in=list(legacy)).values_list(
            "pk", "given_name", "family_name", "date_of_birth"
        )
        for pk, given, family, dob in rows.iterator(chunk_size=5_000):
            if dob is not None:
                groups[(given.casefold().strip(), family.casefold().strip(), dob)].append(
                    legacy[pk]
                )
        state["merge_candidates"] = sorted(sorted(ids) for ids in groups.values() if len(ids) > 1)
        shared = (
            Patient.objects.filter(pk__in=list(legacy))
            .exclude(phone="")
            .values("phone")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .values_list("phone", flat=True)
        )
        shared_ids = sorted(
            legacy[pk]
            for pk in Patient.objects.filter(
                pk__in=list(legacy), phone__in=list(shared)
            ).values_list("pk", flat=True)
        )
        if shared_ids:
            state["warnings"]["shared_phone"] = shared_ids


class Appointments(Kind):
    model = Appointment

    def __init__(self, importer: Importer, lm: LayoutMap) -> None:
        super().__init__(importer, lm)
        self.types = {
            " ".join(t.name.split()).casefold(): t.pk for t in AppointmentType.objects.all()
        }
        self.zones = {c.pk: c.tz for c in Clinic.objects.all()}
        # Each clinician's active appointments (start, end, legacy id), sorted by start.
        self.busy: dict[int, list[tuple[datetime, datetime, str]]] = defaultdict(list)
        rows = Appointment.objects.filter(
            status__in=Appointment.ACTIVE_STATUSES, imported_overlap=False
        ).values_list("clinician_id", "start", "end", "legacy_id")
        for clinician_id, start, end, legacy in rows.iterator(chunk_size=10_000):
            self.busy[clinician_id].append((start, end, legacy or ""))
        for intervals in self.busy.values():
            intervals.sort()

    def appointment_type(self, name: str, minutes: int) -> int:
        display = " ".join(name.split())
        key = display.casefold()
        if key not in self.types:
            self.types[key] = AppointmentType.objects.create(
                name=display[:100], duration_minutes=min(max(minutes, 5), 8 * 60), is_active=False
            ).pk
        return self.types[key]

    def overlaps(self, clinician_id: int, start: datetime, end: datetime, legacy_id: str) -> bool:
        intervals = self.busy[clinician_id]
        index = bisect.bisect_left(intervals, (end, end, ""))
        while index > 0:
            index -= 1
            other_start, other_end, other_id = intervals[index]
            if other_start <= start - MAX_APPOINTMENT_LENGTH:
                break
            if other_id != legacy_id and other_start < end and other_end > start:
                return True
        return False

    def build(self, legacy_id: str, v: dict[str, Any], invalid: dict[str, str]) -> dict[str, Any]:
        patient_id = self.importer.resolve(self.lm, "patient", v["patient"], required=True)
        clinician_id = self.importer.resolve(self.lm, "clinician", v["clinician"], required=True)
        clinic_id = self.importer.resolve(self.lm, "clinic", v["clinic"], required=True)
        minutes = v["duration_minutes"]
        if minutes is None or minutes <= 0 or timedelta(minutes=minutes) > MAX_APPOINTMENT_LENGTH:
            raise Rejected("invalid_duration")
        if clinic_id is None or clinician_id is None:  # required: resolve() rejected already
            raise Rejected("orphan_clinic")
        start, dst = localize(datetime.combine(v["date"], v["time"]), self.zones[clinic_id])
        end = start + timedelta(minutes=minutes)
        status = v["status"]
        overlap = False
        if status in Appointment.ACTIVE_STATUSES and self.overlaps(
            clinician_id, start, end, legacy_id
        ):
            if end > self.importer.now:
                raise Rejected("double_booking_not_past")
            overlap = True
        values = {
            "patient_id": patient_id,
            "clinician_id": clinician_id,
            "clinic_id": clinic_id,
            "appointment_type_id": self.appointment_type(v["appointment_type"], minutes),
            "start": start,
            "end": end,
            "status": status,
            "notes": v.get("notes") or "",
            "cancellation_reason": (v.get("cancellation_reason") or "")[:250],
            "source": Appointment.Source.IMPORT,
            "imported_overlap": overlap,
            "_warnings": [w for w in (dst, "double_booking_history" if overlap else "") if w],
        }
        if status in Appointment.ACTIVE_STATUSES and not overlap:
            bisect.insort(self.busy[clinician_id], (start, end, legacy_id))
        return values


class Notes(Kind):
    model = ClinicalNote
    validate_exclude = ("author", "signed_by", "content_sha256")

    def __init__(self, importer: Importer, lm: LayoutMap) -> None:
        super().__init__(importer, lm)
        self.author_names = {
            pk: " ".join(p for p in parts if p)
            for pk, *parts in Clinician.objects.values_list(
                "pk", "title", "given_name", "family_name"
            )
        }
        self.users = dict(Clinician.objects.filter(user__isnull=False).values_list("pk", "user_id"))

    def build(self, legacy_id: str, v: dict[str, Any], invalid: dict[str, str]) -> dict[str, Any]:
        patient_id = self.importer.resolve(self.lm, "patient", v["patient"], required=True)
        warnings: list[str] = []
        author_clinician = None
        if v.get("author"):
            author_clinician = self.importer.resolve(self.lm, "author", v["author"], required=True)
        appointment_id = None
        if v.get("appointment"):
            appointment_id = self.importer.resolve(
                self.lm, "appointment", v["appointment"], required=False
            )
            if appointment_id is None:
                warnings.append("unknown_appointment")
        tz = self.importer.practice_tz
        written = None
        if v.get("written_at"):
            written, dst = localize(v["written_at"], tz)
            if dst:
                warnings.append(dst)
        signed = bool(v.get("signed"))
        author_user = self.users.get(author_clinician or 0, self.importer.import_user.pk)
        values: dict[str, Any] = {
            "patient_id": patient_id,
            "appointment_id": appointment_id,
            "author_id": author_user,
            "kind": v.get("kind") or ClinicalNote.Kind.PROGRESS,
            "title": (
                f"Written by {self.author_names[author_clinician]} (FileMaker)"
                if author_clinician
                else "Imported from FileMaker, no author recorded"
            )[:200],
            "body": v.get("body") or "",
            "status": ClinicalNote.Status.SIGNED if signed else ClinicalNote.Status.DRAFT,
            "_written": written,
            "_warnings": warnings,
        }
        if signed:
            if not author_clinician:
                warnings.append("signed_without_author")
            signed_at = None
            if v.get("signed_at"):
                signed_at, _ = localize(v["signed_at"], tz)
            values["signed_at"] = signed_at or written or self.importer.now
            values["signed_by_id"] = author_user
            # A placeholder the signature replaces once the row has its id (the digest
            # covers the id); the database requires a signed note to carry one.
            values["content_sha256"] = "0" * 64
        elif not author_clinician:
            warnings.append("draft_without_author")
        return values

    def instantiate(self, item: Prepared) -> models.Model:
        obj = super().instantiate(item)
        obj._written = item.values.get("_written")  # type: ignore[attr-defined]
        return obj

    def _stamp(self, objects: list[Any]) -> None:
        for note in objects:
            if note._written is not None:
                note.created_at = note._written
            if note.status == ClinicalNote.Status.SIGNED:
                # As the database gives it back (UTC), so the digest verifies later.
                note.signed_at = note.signed_at.astimezone(UTC)
                note.content_sha256 = note.compute_sha256()

    def before_insert(self, objects: list[Any], items: list[Prepared]) -> None:
        # With ids drawn before the insert (PostgreSQL), the signature goes in with the row.
        if objects and objects[0].pk is not None:
            self._stamp(objects)

    def after_insert(self, objects: list[Any], items: list[Prepared]) -> None:
        if not uses_copy():
            self._stamp(objects)
            ClinicalNote.objects.bulk_update(objects, ["created_at", "content_sha256"])

    def may_update(self, row: dict[str, Any]) -> bool:
        # A signed note never changes; a new version in FileMaker is a conflict to review.
        return row.get("status") != ClinicalNote.Status.SIGNED

    def update(self, changed: list[tuple[Prepared, ImportedRecord]], state: dict[str, Any]) -> None:
        for item, _ in changed:
            item.values.pop("content_sha256", None)
        super().update(changed, state)


class Documents(Kind):
    model = Document
    validate_exclude = ("file", "uploaded_by")

    def __init__(self, importer: Importer, lm: LayoutMap) -> None:
        super().__init__(importer, lm)
        self.field = next((f.source for f in lm.fields if f.convert == "container"), "")
        self.by_content: dict[tuple[int, str], tuple[int, str]] = {
            (patient_id, sha): (pk, legacy or str(pk))
            for pk, patient_id, sha, legacy in Document.objects.filter(
                deleted_at__isnull=True
            ).values_list("pk", "patient_id", "sha256", "legacy_id")
        }
        self.containers: dict[str, Container | Exception | None] = {}

    def source_digest(self, row: dict[str, Any]) -> str:
        # A streaming URL can differ between sessions for the same bytes: not compared.
        return super().source_digest({k: v for k, v in row.items() if k != self.field})

    def process(self, rows: list[dict[str, Any]], state: dict[str, Any], offset: int) -> None:
        keys = [str(row.get(self.lm.key, "") or "").strip() for row in rows]
        known = dict(
            ImportedRecord.objects.filter(layout=self.lm.layout, legacy_id__in=keys).values_list(
                "legacy_id", "source_digest"
            )
        )
        # Bytes are fetched only for records that are new or changed, several at a time.
        wanted = [
            row
            for key, row in zip(keys, rows, strict=True)
            if key and known.get(key) != self.source_digest(row)
        ]

        def fetch(row: dict[str, Any]) -> tuple[str, Container | Exception | None]:
            key = str(row[self.lm.key]).strip()
            try:
                return key, self.importer.source.container(
                    self.lm.layout,
                    key=self.lm.key,
                    key_value=key,
                    field=self.field,
                    value=row.get(self.field, ""),
                )
            except MissingBytes as missing:
                return key, missing

        with ThreadPoolExecutor(max_workers=DOCUMENT_WORKERS) as pool:
            self.containers = dict(pool.map(fetch, wanted))
        try:
            super().process(rows, state, offset)
        finally:
            for container in self.containers.values():
                if isinstance(container, Container):
                    container.file.close()
            self.containers = {}

    def build(self, legacy_id: str, v: dict[str, Any], invalid: dict[str, str]) -> dict[str, Any]:
        patient_id = self.importer.resolve(self.lm, "patient", v["patient"], required=True)
        container = self.containers.get(legacy_id)
        if container is None:
            raise Rejected("empty_container")
        if isinstance(container, Exception):
            raise Rejected("missing_bytes")
        if patient_id is None:
            raise Rejected("orphan_patient")
        duplicate = self.by_content.get((patient_id, container.sha256))
        if duplicate is not None and duplicate[1] != legacy_id:
            raise Merged("identical_file", duplicate[0], duplicate[1])
        self.by_content[(patient_id, container.sha256)] = (0, legacy_id)  # made this batch
        name = PurePath(v.get("file_name") or "document").name[:150] or "document"
        head = container.file.read(8192)
        container.file.seek(0)
        sniffed = filetype.guess_mime(head) or "application/octet-stream"
        allowed = PurePath(name).suffix.lower() in ALLOWED_TYPES.get(sniffed, set())
        uploaded_at = None
        if v.get("created_at"):
            uploaded_at, _ = localize(v["created_at"], self.importer.practice_tz)
        return {
            "patient_id": patient_id,
            "category": v.get("category") or Document.Category.OTHER,
            "description": (v.get("description") or "")[:200],
            "original_name": name,
            "content_type": sniffed if allowed else "application/octet-stream",
            "size": container.size,
            "sha256": container.sha256,
            "uploaded_by_id": self.importer.import_user.pk,
            "uploaded_at": uploaded_at or self.importer.now,
            "legacy_format": not allowed,
            "_warnings": [] if allowed else ["legacy_format"],
        }

    def before_insert(self, objects: list[Any], items: list[Prepared]) -> None:
        # The bytes go to storage several at a time; a dry run stores nothing.
        def store(pair: tuple[Any, Prepared]) -> None:
            obj, item = pair
            container = self.containers[item.legacy_id]
            if not isinstance(container, Container):  # build() rejected these already
                return
            if self.importer.options.dry_run:
                obj.file.name = f"patients/{obj.patient_id}/dry-run"
                return
            key = document_key(obj, item.values["original_name"])
            obj.file.name = default_storage.save(key, File(container.file))

        with ThreadPoolExecutor(max_workers=DOCUMENT_WORKERS) as pool:
            list(pool.map(store, zip(objects, items, strict=True)))

    def after_insert(self, objects: list[Any], items: list[Prepared]) -> None:
        for obj in objects:
            self.by_content[(obj.patient_id, obj.sha256)] = (obj.pk, obj.legacy_id)

    def digest_fields(self, item: Prepared) -> dict[str, Any]:
        return {
            k: v
            for k, v in item.values.items()
            if not k.startswith("_") and k in {"patient_id", "category", "description", "sha256"}
        }


KINDS: dict[str, type[Kind]] = {
    "clinics": Clinics,
    "practitioners": Practitioners,
    "referrers": Referrers,
    "coordinators": Coordinators,
    "clients": Clients,
    "appointments": Appointments,
    "notes": Notes,
    "documents": Documents,
}


def iter_outcomes(report: dict[str, Any]) -> Iterable[tuple[str, str, str, str]]:
    """(layout, outcome, reason, legacy id) for every record the report names: the CSV."""
    for layout, state in report.get("layouts", {}).items():
        for reason, ids in state.get("rejected_ids", {}).items():
            for legacy_id in ids:
                yield layout, "rejected", reason, legacy_id
        for reason, ids in state.get("merged_ids", {}).items():
            for legacy_id in ids:
                yield layout, "merged", reason, legacy_id
        for legacy_id in state.get("conflict_ids", []):
            yield layout, "conflict", "edited_in_nexus", legacy_id
        for group in state.get("merge_candidates", []):
            for legacy_id in group:
                yield layout, "merge_candidate", "same_name_and_date_of_birth", legacy_id
        for reason, ids in state.get("warnings", {}).items():
            for legacy_id in ids:
                yield layout, "warning", reason, legacy_id
