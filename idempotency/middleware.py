"""`Idempotency-Key` on API writes (issue 12 item 11).

A client that lost the answer to a write retries it with the same `Idempotency-Key`
header: within 24 hours, the same user or token sending the same method, path and body gets
the first answer again (status and body, with `Idempotent-Replayed: true`) and nothing is
done twice; a different request with that key is refused with 422.

The key row is inserted inside the request's transaction (AuditFailClosedMiddleware makes
every write one), before the view runs. A concurrent duplicate's INSERT waits on the unique
index until the first request commits (then it replays that answer) or rolls back (then it
proceeds itself), so two retries cannot both book. Keys live in the database: no Redis.
"""

import hashlib
import json
import re
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.models import ApiToken, hash_token
from idempotency.models import IdempotencyKey
from idempotency.services import KEEP_FOR

HEADER = "Idempotency-Key"
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# Answers a retry should not get back: the client can fix these and try again.
_NOT_KEPT = {401, 403, 429}


def _error(status: int, detail: str, code: str) -> HttpResponse:
    return HttpResponse(
        json.dumps({"detail": detail, "code": code}), status=status, content_type="application/json"
    )


def _owner(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "").split()
    if len(header) == 2 and header[0].lower() == "bearer":
        token_id = (
            ApiToken.objects.filter(
                key_hash=hash_token(header[1]), revoked_at__isnull=True, user__is_active=True
            )
            .values_list("pk", flat=True)
            .first()
        )
        return f"token:{token_id}" if token_id else None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if key is None or request.method not in _WRITES or not request.path.startswith("/api/"):
            return self.get_response(request)
        if not _VALID_KEY.match(key):
            return _error(
                400,
                "Idempotency-Key must be 1 to 255 printable characters without spaces.",
                "invalid_idempotency_key",
            )
        owner = _owner(request)
        if owner is None:
            return self.get_response(request)  # Unauthenticated: the API refuses it anyway.

        digest = hashlib.sha256()
        for part in (request.method or "", request.get_full_path()):
            digest.update(part.encode() + b"\n")
        digest.update(request.body)
        request_hash = digest.hexdigest()
        now = timezone.now()
        IdempotencyKey.objects.filter(owner=owner, key=key, created_at__lt=now - KEEP_FOR).delete()
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(
                    owner=owner, key=key, request_hash=request_hash, created_at=now
                )
        except IntegrityError:
            first = IdempotencyKey.objects.get(owner=owner, key=key)
            if first.request_hash != request_hash:
                return _error(
                    422,
                    "This Idempotency-Key was already used for a different request.",
                    "idempotency_key_reused",
                )
            if first.status_code is None:
                return _error(
                    409, "A request with this Idempotency-Key is still running.", "in_progress"
                )
            replay = HttpResponse(
                bytes(first.body), status=first.status_code, content_type=first.content_type
            )
            replay["Idempotent-Replayed"] = "true"
            return replay

        response = self.get_response(request)
        if response.status_code >= 500 or response.status_code in _NOT_KEPT:
            IdempotencyKey.objects.filter(pk=row.pk).delete()
            return response
        row.status_code = response.status_code
        row.content_type = response.get("Content-Type", "")
        row.body = response.content
        row.save(update_fields=["status_code", "content_type", "body"])
        return response
