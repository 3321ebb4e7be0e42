import hashlib
import hmac
import json
from typing import Any

from django.conf import settings
from django.db import models

from patients.models import Patient

GENESIS_HASH = "0" * 64


class AuditEvent(models.Model):
    """Who did what to which record, for whom, when and from where. Append-only.

    Holds ids only: never names, note text or contact details, so the trail itself is not
    a second copy of the record. Requests only insert; `audit_seal()` later links events
    into a hash chain in sealing order (`seq`), each hash covering the event and the
    previous hash, so an edited or deleted event breaks the chain (`manage.py
    audit_verify`). Sealing off the request path keeps PHI reads from queueing on one lock.
    On PostgreSQL a trigger refuses DELETE, and any UPDATE but sealing an unsealed row.
    """

    class Action(models.TextChoices):
        READ = "read", "Read"
        SEARCH = "search", "Search"
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        DELETE = "delete", "Delete"
        EXPORT = "export", "Export"
        DISCLOSE = "disclose", "Disclose"
        LOGIN = "login", "Login"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOGOUT = "logout", "Logout"
        INVITE = "invite", "Invitation"
        ROLE_CHANGE = "role_change", "Role or access change"
        MFA_CHANGE = "mfa_change", "Second factor change"
        PASSWORD_CHANGE = "password_change", "Password change"
        TOKEN_ISSUE = "token_issue", "API token issued"
        TOKEN_REVOKE = "token_revoke", "API token revoked"
        LOCKOUT = "lockout", "Account locked out"

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        DENIED = "denied", "Denied"

    # Every audited request inserts here, often a page of rows at once, so the table keeps
    # only the indexes its questions need: by patient and by actor over time. The FK columns
    # get no single-column indexes of their own, and the verifier walks by id.
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    token = models.ForeignKey(
        "accounts.ApiToken",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.CharField(max_length=64, help_text='e.g. "patients.patient"')
    object_id = models.CharField(max_length=64, blank=True)
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    # A page that shows many records (a calendar day, a list, search results) is one event:
    # `object_ids` lists the records shown, in page order, and `patient_ids` the patients
    # they belong to when there is more than one (with one, `patient` names them). Both stay
    # empty on single-record events, so rows written before these columns keep their
    # content, MAC and hash. On PostgreSQL a GIN index answers "who saw this patient" over
    # `patient_ids` as the (patient, occurred_at) index does over `patient`
    # (audit/selectors.py).
    object_ids = models.JSONField(default=list, blank=True, help_text="Records a page showed.")
    patient_ids = models.JSONField(
        default=list, blank=True, help_text="Patients a page showed, when more than one."
    )
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.SUCCESS)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True, help_text="Ids and codes only.")
    seq = models.BigIntegerField(null=True, blank=True, unique=True, help_text="Chain position.")
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)
    # HMAC of the event's content with NEXUS_AUDIT_CHECKPOINT_KEY, a key the database does
    # not hold, computed before the INSERT: an edit made before the event is sealed (or a
    # whole chain recomputed after one) cannot produce a matching MAC.
    mac = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["patient", "-occurred_at"]),
            models.Index(fields=["actor", "-occurred_at"]),
        ]

    def __str__(self) -> str:
        when = f"{self.occurred_at:%Y-%m-%d %H:%M}"
        return f"{self.action} {self.object_type}:{self.object_id} at {when}"

    def compute_hash(self) -> str:
        content: dict[str, Any] = {
            "id": self.pk,
            "seq": self.seq,
            "prev": self.prev_hash,
            **self._content(),
        }
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def compute_mac(self, key: bytes) -> str:
        """The keyed MAC over what the event says (not where it sits in the chain)."""
        content = self._content()
        # Ids as text: a value read back from the database must give the same MAC as the
        # one the request held before the INSERT, whatever type it arrived as.
        for name in ("actor", "token", "patient", "object", "ip"):
            content[name] = None if content[name] is None else str(content[name])
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
        return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()

    def _content(self) -> dict[str, Any]:
        content: dict[str, Any] = {
            "at": self.occurred_at.isoformat(),
            "actor": self.actor_id,
            "token": self.token_id,
            "action": self.action,
            "type": self.object_type,
            "object": self.object_id,
            "patient": self.patient_id,
            "outcome": self.outcome,
            "ip": self.ip,
            "ua": self.user_agent,
            "request": self.request_id,
            "detail": self.detail,
        }
        # Only when present: an event without lists hashes exactly as it did before they
        # existed, and one with them cannot have a list emptied or edited unnoticed.
        if self.object_ids:
            content["objects"] = self.object_ids
        if self.patient_ids:
            content["patients"] = self.patient_ids
        return content
