"""Writing the audit trail. Every patient-data read and write calls audit_record()."""

import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from django.db import DatabaseError, connection, connections, models, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import ApiToken
from audit.checkpoints import checkpoint_key, checkpoint_latest, checkpoint_write
from audit.models import GENESIS_HASH, AuditEvent
from nexus.client import client_ip
from nexus.db import prepared
from nexus.errors import AuditUnavailable
from nexus.metrics import AUDIT_WRITE_FAILURES

log = structlog.get_logger(__name__)

# Any fixed 64-bit number: the advisory lock that serialises appends to the hash chain.
_CHAIN_LOCK = 0x4E455855_41554454
# The object_type of one event listing records of several kinds ("kind:id" each).
MIXED_KINDS = "mixed"


@dataclass(frozen=True)
class Target:
    object_type: str
    object_id: str
    patient_id: int | None

    @classmethod
    def of(cls, obj: models.Model, patient_attr: str) -> "Target":
        """An object as an audit target; `patient_attr` is "pk" for a Patient itself and
        "" for an object that concerns no patient."""
        patient_id = getattr(obj, patient_attr) if patient_attr else None
        return cls(obj._meta.label_lower, str(obj.pk), patient_id)

    @classmethod
    def of_each(cls, objects: list[Any], patient_attr: str) -> list["Target"]:
        """Target.of for each of `objects`, records one viewset handed out."""
        if patient_attr != "pk" or not objects:
            return [cls.of(obj, patient_attr) for obj in objects]
        # Patients (a page of 25 or 100): their kind named once, each id read once.
        kind = objects[0]._meta.label_lower
        return [cls(kind, str(pk), pk) for pk in (obj.pk for obj in objects)]


def _client_ip(request: HttpRequest) -> str | None:
    # The trusted client address: REMOTE_ADDR, or X-Forwarded-For behind
    # NEXUS_TRUSTED_PROXY_COUNT proxies (nexus/client.py).
    return client_ip(request) or None


def audit_record(
    *,
    request: HttpRequest | None,
    action: str,
    targets: Iterable[Target],
    outcome: str = AuditEvent.Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
    actor: Any = None,
) -> None:
    """Record what the request did to `targets`. Raises if it cannot: callers must not
    return patient data whose access was not recorded. One INSERT, no lock: sealing comes
    later.

    A read or search of several records is ONE event listing them (`object_ids`) and their
    patients (`patient`, or `patient_ids` when there are several); any other action is one
    event per record, so each change keeps its own row.

    `request` is None for work done outside a request (management commands, tasks); pass
    the user the work is done for as `actor` there if there is one."""
    targets = list(targets)
    if not targets:
        return
    user = getattr(request, "user", None) if request is not None else actor
    auth = getattr(request, "auth", None)
    headers = request.headers if request is not None else {}
    shared = {
        "occurred_at": timezone.now(),
        "actor_id": user.pk if user is not None and user.is_authenticated else None,
        "token_id": auth.pk if isinstance(auth, ApiToken) else None,
        "action": action,
        "outcome": outcome,
        "ip": _client_ip(request) if request is not None else None,
        "user_agent": headers.get("User-Agent", "")[:300],
        "request_id": getattr(request, "request_id", ""),
        "detail": detail or {},
    }
    if request is not None and outcome != AuditEvent.Outcome.SUCCESS:
        # DeniedAccessAuditMiddleware then knows this refusal is on record already.
        getattr(request, "_request", request).nexus_audited_failure = True  # type: ignore[union-attr]
    try:
        if action in _LISTED_ACTIONS and len(targets) > 1:
            _insert(shared, [_listed(targets)])
        else:
            _insert(shared, [_single(t) for t in targets])
    except DatabaseError as error:
        # The alert: monitoring watches for this event. Ids and codes only.
        log.error("audit.write_failed", action=action, events=len(targets), error=repr(error))
        AUDIT_WRITE_FAILURES.inc(str(action))
        raise AuditUnavailable from error


# Actions whose many targets share one event: showing a page of records. Changes and
# deletions keep one event per record.
_LISTED_ACTIONS = frozenset({AuditEvent.Action.READ, AuditEvent.Action.SEARCH})


def _single(target: Target) -> dict[str, Any]:
    return {
        "object_type": target.object_type,
        "object_id": target.object_id,
        "patient_id": target.patient_id,
        "object_ids": [],
        "patient_ids": [],
    }


def _listed(targets: list[Target]) -> dict[str, Any]:
    """Many records as one event. Records of one kind are listed by id under that kind;
    records of several kinds (a chart panel's notes and documents) as "kind:id"."""
    kinds = {t.object_type for t in targets}
    if len(kinds) == 1:
        object_type, object_ids = kinds.pop(), [t.object_id for t in targets]
    else:
        object_type = MIXED_KINDS
        object_ids = [f"{t.object_type}:{t.object_id}" for t in targets]
    patients = sorted({t.patient_id for t in targets if t.patient_id is not None})
    return {
        "object_type": object_type,
        "object_id": "",
        "patient_id": patients[0] if len(patients) == 1 else None,
        "object_ids": object_ids,
        "patient_ids": patients if len(patients) > 1 else [],
    }


def audit_target(obj: models.Model) -> Target:
    """How an event names `obj` (a page that keeps what it showed, such as the cached chart,
    keeps these). A Patient is its own patient; every other record names one in
    `patient_id`, or none."""
    if obj._meta.label_lower == "patients.patient":
        return Target.of(obj, "pk")
    return Target.of(obj, "patient_id" if hasattr(obj, "patient_id") else "")


def audit_read(
    *,
    request: HttpRequest,
    records: Iterable[models.Model],
    view: str,
    action: str = AuditEvent.Action.READ,
) -> None:
    """A staff page showed these records: one event listing them, none when it showed none.
    `action` is SEARCH for search results. The page names itself in `view`; the search text
    and the record's content never go in the trail."""
    audit_record(
        request=request,
        action=action,
        targets=[audit_target(obj) for obj in records],
        detail={"view": view},
    )


def audit_change(
    *,
    request: HttpRequest,
    record: models.Model,
    view: str,
    created: bool = False,
    detail: dict[str, Any] | None = None,
) -> None:
    """A staff page created (`created=True`) or changed one record; `detail` adds what the
    trail must say beyond the view (an undo names what it undid). Never patient data."""
    audit_record(
        request=request,
        action=AuditEvent.Action.CREATE if created else AuditEvent.Action.UPDATE,
        targets=[audit_target(record)],
        detail={"view": view, **(detail or {})},
    )


def _insert(shared: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    key = checkpoint_key()
    events = [AuditEvent(**shared, **row) for row in rows]
    for event in events:
        event.mac = event.compute_mac(key)
    if connection.vendor == "postgresql":
        _insert_postgresql(shared, events)
        return
    AuditEvent.objects.bulk_create(events)


_COLUMNS = (
    "occurred_at, actor_id, token_id, action, outcome, ip, user_agent, request_id, detail, "
    "object_type, object_id, patient_id, object_ids, patient_ids, prev_hash, hash, mac"
)


def _insert_postgresql(shared: dict[str, Any], events: list[AuditEvent]) -> None:
    # Every patient-data request pays for this INSERT, so it is written by hand rather than
    # built through the ORM (bulk_create binds ~17 parameters per row through each field).
    # One event, the usual case, is one row of plain values; several send the per-row values
    # as arrays and the rest once, which stays flat for the rare many-row write (binding
    # arrays cost a single row about twice what plain values do).
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    shared_params = [
        shared["occurred_at"],
        shared["actor_id"],
        shared["token_id"],
        shared["action"],
        shared["outcome"],
        shared["ip"],
        shared["user_agent"],
        shared["request_id"],
        json.dumps(shared["detail"]),
    ]
    if len(events) == 1:
        (event,) = events
        sql = (
            f"INSERT INTO {table} ({_COLUMNS}) VALUES "  # noqa: S608 - a fixed table name
            "(%s, %s, %s, %s, %s, %s::inet, %s, %s, %s::jsonb, "
            "%s, %s, %s, %s::jsonb, %s::jsonb, '', '', %s)"
        )
        params = [
            *shared_params,
            event.object_type,
            event.object_id,
            event.patient_id,
            json.dumps(event.object_ids),
            json.dumps(event.patient_ids),
            event.mac,
        ]
    else:
        sql = (
            f"INSERT INTO {table} ({_COLUMNS}) "  # noqa: S608 - a fixed table name
            "SELECT %s, %s, %s, %s, %s, %s::inet, %s, %s, %s::jsonb, "
            "t.object_type, t.object_id, t.patient_id, t.object_ids, t.patient_ids, '', '', t.mac "
            "FROM unnest(%s::varchar[], %s::varchar[], %s::bigint[], %s::jsonb[], %s::jsonb[], "
            "%s::varchar[]) AS t(object_type, object_id, patient_id, object_ids, patient_ids, mac)"
        )
        params = [
            *shared_params,
            [e.object_type for e in events],
            [e.object_id for e in events],
            [e.patient_id for e in events],
            [json.dumps(e.object_ids) for e in events],
            [json.dumps(e.patient_ids) for e in events],
            [e.mac for e in events],
        ]
    # A prepared statement: the connection parses and plans this text once, not on each
    # request (nexus/db/prepared.py).
    prepared.execute(connection, sql, params)


class ChainHeadMismatch(Exception):
    """The chain in the table no longer ends where the latest checkpoint says it did."""


def audit_seal(*, batch: int = 5_000) -> int:
    """Link every unsealed event into the chain, then checkpoint the new head outside the
    database; returns how many it sealed.

    Events are sealed in id order within a round, but an event whose transaction commits
    after a round simply joins the next one: the chain's order is `seq`, not `id`. A chain
    whose head disagrees with the latest checkpoint (newest events deleted, the table
    truncated, events re-chained) is not extended: that would bury the evidence. The
    error is logged and `audit_verify` reports it.
    """
    try:
        sealed, head = _seal(batch=batch, using=_seal_alias())
    except ChainHeadMismatch as error:
        log.error("audit.chain_head_mismatch", error=str(error))
        return 0
    if sealed and head is not None:
        checkpoint_write(seq=head.seq or 0, head_hash=head.hash)
    return sealed


# The app's role may only INSERT and SELECT audit events (audit/dbrole.py); sealing updates
# them, so it runs on the schema owner's connection (NEXUS_AUDIT_OWNER_DATABASE_URL).
SEAL_DATABASE = "audit_owner"
_LOGIN = ("USER", "HOST", "PORT")


def _seal_alias() -> str:
    """The owner's connection when it logs in as someone else than the app (the URL must
    name the same database); with the same login (development, tests, one role for
    everything) the app's own connection, so sealing sees what this transaction has written
    and no second connection is opened."""
    if SEAL_DATABASE not in connections.settings:
        return "default"
    owner, app = connections[SEAL_DATABASE].settings_dict, connection.settings_dict
    return SEAL_DATABASE if any(owner[k] != app[k] for k in _LOGIN) else "default"


def _seal(*, batch: int, using: str) -> tuple[int, AuditEvent | None]:
    with transaction.atomic(using=using):
        db = connections[using]
        if db.vendor == "postgresql":
            with db.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
        # (SQLite needs no lock: its IMMEDIATE transactions admit one writer at a time.)
        events = AuditEvent.objects.using(using)
        last = events.filter(seq__isnull=False).order_by("-seq").first()
        _check_head(last)
        seq, prev = (last.seq or 0, last.hash) if last else (0, GENESIS_HASH)
        sealed = 0
        while True:
            rows = list(events.filter(seq__isnull=True).order_by("id")[:batch])
            if not rows:
                return sealed, last
            for event in rows:
                seq += 1
                event.seq, event.prev_hash = seq, prev
                event.hash = prev = event.compute_hash()
            _write_seals(rows, using=using)
            sealed += len(rows)
            last = rows[-1]


def _check_head(last: AuditEvent | None) -> None:
    checkpoint = checkpoint_latest()
    if checkpoint is None:
        return
    if not checkpoint.genuine:
        raise ChainHeadMismatch("the latest checkpoint's signature does not match")
    if last is None or (last.seq or 0) < checkpoint.seq:
        raise ChainHeadMismatch(
            f"the chain ends at seq {last.seq if last else 0}, the checkpoint at {checkpoint.seq}"
        )
    if last.seq == checkpoint.seq and last.hash != checkpoint.hash:
        raise ChainHeadMismatch(f"the event at seq {checkpoint.seq} differs from its checkpoint")


def _write_seals(rows: list[AuditEvent], *, using: str) -> None:
    db = connections[using]
    if db.vendor != "postgresql":
        AuditEvent.objects.using(using).bulk_update(
            rows, ["seq", "prev_hash", "hash"], batch_size=200
        )
        return
    # bulk_update's CASE expressions cost ~1 ms a row to build and run at this volume; one
    # UPDATE ... FROM (VALUES ...) per chunk seals tens of thousands of events a second.
    table = db.ops.quote_name(AuditEvent._meta.db_table)
    for start in range(0, len(rows), 1_000):
        chunk = rows[start : start + 1_000]
        values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
        params = [v for e in chunk for v in (e.pk, e.seq, e.prev_hash, e.hash)]
        sql = (
            f"UPDATE {table} SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash "  # noqa: S608 - placeholders only
            f"FROM (VALUES {values}) AS v(id, seq, prev_hash, hash) WHERE {table}.id = v.id"
        )
        with db.cursor() as cursor:
            cursor.execute(sql, params)


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_id: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.reason == "intact"


def audit_chain_verify(*, batch: int = 5_000) -> ChainReport:
    """Walk the sealed chain in order and name the first event whose content, MAC or link
    fails; then check the chain still reaches the latest checkpoint, and that no unsealed
    event was edited."""
    key = checkpoint_key()
    checkpoint = checkpoint_latest()
    if checkpoint is not None and not checkpoint.genuine:
        return ChainReport(0, None, "the latest checkpoint's signature does not match")
    prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    while True:
        rows = list(AuditEvent.objects.filter(seq__gte=expected_seq).order_by("seq")[:batch])
        if not rows:
            break
        for event in rows:
            if event.seq != expected_seq or event.prev_hash != prev:
                return ChainReport(checked, event.pk, "link to the previous event is broken")
            if not _mac_ok(event, key):
                return ChainReport(checked, event.pk, "content does not match its MAC")
            if event.compute_hash() != event.hash:
                return ChainReport(checked, event.pk, "content does not match its hash")
            if (
                checkpoint is not None
                and event.seq == checkpoint.seq
                and event.hash != checkpoint.hash
            ):
                return ChainReport(
                    checked,
                    event.pk,
                    "the chain was recomputed: its head differs from the checkpoint",
                )
            prev = event.hash
            expected_seq += 1
            checked += 1
    if checkpoint is not None and checked < checkpoint.seq:
        return ChainReport(
            checked,
            None,
            f"events are missing: the checkpoint of {checkpoint.at} records {checkpoint.seq} "
            f"sealed events, the table holds {checked}",
        )
    for event in AuditEvent.objects.filter(seq__isnull=True).order_by("id").iterator():
        if not _mac_ok(event, key):
            return ChainReport(checked, event.pk, "content does not match its MAC (unsealed)")
    return ChainReport(checked, None, "intact")


def _mac_ok(event: AuditEvent, key: bytes) -> bool:
    return hmac.compare_digest(event.mac, event.compute_mac(key))


def audit_login(
    *,
    request: HttpRequest,
    user_id: int | None,
    succeeded: bool,
    detail: dict[str, Any] | None = None,
) -> None:
    """A sign-in or failed sign-in, naming the account it was for (`user_id`, None when no
    account matched). Never what was typed: people type passwords into the address field.
    `detail` says how (`{"method": "google"}`) and, for failures, why (`{"reason": ...}`)."""
    audit_record(
        request=request,
        action=AuditEvent.Action.LOGIN if succeeded else AuditEvent.Action.LOGIN_FAILED,
        targets=[Target("accounts.user", str(user_id or ""), None)],
        outcome=AuditEvent.Outcome.SUCCESS if succeeded else AuditEvent.Outcome.FAILURE,
        detail=detail,
    )


def audit_account(
    *,
    request: HttpRequest | None,
    action: str,
    obj: models.Model,
    detail: dict[str, Any] | None = None,
) -> None:
    """A change to who may do what: invitations, roles, second factors, API tokens."""
    audit_record(request=request, action=action, targets=[Target.of(obj, "")], detail=detail)
