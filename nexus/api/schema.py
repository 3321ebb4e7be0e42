"""The OpenAPI schema: its view, with refusals in the API's own error shape, and the
4xx/5xx answers every operation can give, written into the schema once.

Each view documents its success shape; the errors come from shared machinery (the
exception handler's {"detail", "code"} shape, authentication, throttles, pagination, the
audit fail-closed rule), so `add_error_responses` adds them for every operation instead of
repeating them on each view. Schemathesis' status-code check holds the API to this list.
"""

from typing import Any

from drf_spectacular.views import SpectacularAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

# The schema depends only on the code (SERVE_PUBLIC: not on who asks), so each process
# generates it once per API version, not on every request (48 of a request's 73 ms).
_GENERATED: dict[str | None, dict[str, Any]] = {}


class SchemaView(SpectacularAPIView):
    """/api/schema/: YAML (or JSON on request) for those allowed to read it.

    The schema renderers would also render a refusal, so an anonymous caller got its
    {"detail", "code"} body as YAML. Errors are JSON, as everywhere else in the API."""

    def _get_schema_response(self, request: Request) -> Response:
        version = self.api_version or request.version or self._get_version_parameter(request)
        schema = _GENERATED.get(version)
        if schema is None:
            generator = self.generator_class(
                urlconf=self.urlconf, api_version=version, patterns=self.patterns
            )
            schema = generator.get_schema(request=request, public=self.serve_public)
            _GENERATED[version] = schema
        filename = self._get_filename(request, version)
        return Response(
            data=schema, headers={"Content-Disposition": f'inline; filename="{filename}"'}
        )

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["detail", "code"],
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, for people."},
        "code": {"type": "string", "description": "What went wrong, for programs."},
        "errors": {
            "type": "object",
            "description": "Problems by field name.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}

_ALWAYS = {
    "400": "The request is not valid: a field, filter or page parameter (see `errors`).",
    "401": "No credentials, or credentials that are not valid.",
    "403": "Signed in, but this role, token scope or object is not allowed.",
    "404": "No such object visible to you, or an unknown cursor.",
    "429": "Too many requests; wait for the number of seconds in `Retry-After`.",
    "503": "The access could not be recorded in the audit trail, so nothing was done.",
}
_WRITES = {
    "409": "The change conflicts with the current state (a clash, a signed note, a move "
    "the status does not allow).",
}


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            errors = _ALWAYS | (_WRITES if method != "get" else {})
            for status, description in errors.items():
                operation["responses"].setdefault(
                    status, {"description": description, "content": body}
                )
    return result
