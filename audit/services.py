"""Writing the audit trail. Every patient-data read and write calls audit_record()."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import ApiToken
from audit.models import GENESIS_HASH, AuditEvent

# Any fixed 64-bit number: the advisory lock that serialises appends to the hash chain.
_CHAIN_LOCK = 0x4E455855_41554454


@dataclass(frozen=True)
class Target:
    object_type: str
    object_id: str
    patient_id: int | None


def _client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR is the proxy's address behind a load balancer; deployments that trust a
    # forwarding header should set it through their proxy configuration, not here.
    return request.META.get("REMOTE_ADDR") or None


@transaction.atomic
def audit_record(
    *,
    request: HttpRequest,
    action: str,
    targets: Iterable[Target],
    outcome: str = AuditEvent.Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
) -> list[AuditEvent]:
    """Append one event per target to the chain. Raises if it cannot: callers must not
    return patient data whose access was not recorded."""
    targets = list(targets)
    if not targets:
        return []
    user = getattr(request, "user", None)
    auth = getattr(request, "auth", None)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
    # (SQLite needs no lock: its IMMEDIATE transactions already admit one writer at a time.)
    prev = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    prev = prev or GENESIS_HASH
    now = timezone.now()
    events = []
    for target in targets:
        event = AuditEvent(
            occurred_at=now,
            actor=user if user is not None and user.is_authenticated else None,
            token=auth if isinstance(auth, ApiToken) else None,
            action=action,
            object_type=target.object_type,
            object_id=target.object_id,
            patient_id=target.patient_id,
            outcome=outcome,
            ip=_client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:300],
            request_id=getattr(request, "request_id", ""),
            detail=detail or {},
            prev_hash=prev,
        )
        event.hash = prev = event.compute_hash()
        events.append(event)
    return AuditEvent.objects.bulk_create(events)


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_id: int | None
    reason: str


def audit_chain_verify(*, batch: int = 5_000) -> ChainReport:
    """Walk the chain in order; name the first row whose content or link does not match."""
    prev = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        rows = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")[:batch])
        if not rows:
            return ChainReport(checked, None, "intact")
        for event in rows:
            if event.prev_hash != prev:
                return ChainReport(checked, event.pk, "link to the previous event is broken")
            if event.compute_hash() != event.hash:
                return ChainReport(checked, event.pk, "content does not match its hash")
            prev = event.hash
            checked += 1
        last_id = rows[-1].pk


def audit_login(*, request: HttpRequest, user_id: int | None, succeeded: bool) -> None:
    """A sign-in or failed sign-in. Failures keep no username: people type passwords there."""
    audit_record(
        request=request,
        action=AuditEvent.Action.LOGIN if succeeded else AuditEvent.Action.LOGIN_FAILED,
        targets=[Target("accounts.user", str(user_id or ""), None)],
        outcome=AuditEvent.Outcome.SUCCESS if succeeded else AuditEvent.Outcome.FAILURE,
    )
