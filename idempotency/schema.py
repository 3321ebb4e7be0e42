"""The OpenAPI schema documents the Idempotency-Key header on every API write."""

from typing import Any

_WRITES = ("post", "put", "patch", "delete")

PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": (
        "Any unique string (a UUID) per logical request. A retry with the same key and the "
        "same body within 24 hours returns the first answer (status and body, with "
        "`Idempotent-Replayed: true`) instead of doing the write again; the same key with a "
        "different body is refused with 422. Keys are per user or token."
    ),
}
REUSED = {
    "description": "The Idempotency-Key was already used with a different request.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
            }
        }
    },
}


def document_idempotency_key(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method in _WRITES:
            operation = operations.get(method)
            if operation is None:
                continue
            operation.setdefault("parameters", []).append(dict(PARAMETER))
            operation.setdefault("responses", {}).setdefault("422", REUSED)
    return result
