"""Checkpoints of the audit chain's head, kept outside the database (security.md R19).

A database superuser can edit rows and recompute every hash after them, delete the newest
events, or TRUNCATE the table; the chain alone cannot tell. Each seal therefore records
where the chain's head was (seq and hash), signed with NEXUS_AUDIT_CHECKPOINT_KEY (which the
database never holds), in the log and in the "audit_checkpoints" storage (S3 in
production, local files in development). `audit_verify` checks the chain still reaches the
latest checkpoint with the same hash.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

import structlog
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.utils import timezone

log = structlog.get_logger(__name__)

STORAGE = "audit_checkpoints"


def checkpoint_key() -> bytes:
    return str(settings.NEXUS_AUDIT_CHECKPOINT_KEY).encode()


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    mac: str

    def _canonical(self) -> bytes:
        return json.dumps(
            {"seq": self.seq, "hash": self.hash, "at": self.at}, sort_keys=True
        ).encode()

    @classmethod
    def signed(cls, *, seq: int, head_hash: str, at: datetime) -> "Checkpoint":
        unsigned = cls(seq=seq, hash=head_hash, at=at.isoformat(), mac="")
        mac = hmac.new(checkpoint_key(), unsigned._canonical(), hashlib.sha256).hexdigest()
        return cls(seq=seq, hash=head_hash, at=unsigned.at, mac=mac)

    @property
    def genuine(self) -> bool:
        expected = hmac.new(checkpoint_key(), self._canonical(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.mac)

    def to_json(self) -> str:
        return json.dumps({"seq": self.seq, "hash": self.hash, "at": self.at, "mac": self.mac})


def _storage() -> Storage:
    return storages[STORAGE]


def checkpoint_write(*, seq: int, head_hash: str) -> Checkpoint:
    """Record the chain head: one log line and one object, named so the newest sorts last
    (one folder a day keeps listings short)."""
    now = timezone.now()
    checkpoint = Checkpoint.signed(seq=seq, head_hash=head_hash, at=now)
    log.info("audit.checkpoint", seq=seq, hash=head_hash, mac=checkpoint.mac)
    name = f"{now:%Y-%m-%d}/{seq:020d}.json"
    _storage().save(name, ContentFile(checkpoint.to_json().encode()))
    return checkpoint


def checkpoint_latest() -> Checkpoint | None:
    """The checkpoint with the highest seq, or None if none was ever written. An object
    that cannot be parsed comes back unsigned, so it reads as forged."""
    storage = _storage()
    try:
        days, _ = storage.listdir("")
    except FileNotFoundError:
        return None
    for day in sorted(days, reverse=True):
        _, files = storage.listdir(day)
        names = sorted(f for f in files if f.endswith(".json"))
        if not names:
            continue
        with storage.open(f"{day}/{names[-1]}") as handle:
            raw = handle.read()
        try:
            data = json.loads(raw)
            return Checkpoint(
                seq=int(data["seq"]), hash=str(data["hash"]), at=str(data["at"]), mac=data["mac"]
            )
        except (ValueError, KeyError, TypeError):
            return Checkpoint(seq=0, hash="", at="", mac="")
    return None
