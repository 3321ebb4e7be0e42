"""One error shape for the whole API: {"detail", "code"} plus "errors" for field problems."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from nexus.errors import DomainError


def _first_code(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _first_code(detail[0])
    if isinstance(detail, dict) and detail:
        return _first_code(next(iter(detail.values())))
    return getattr(detail, "code", None) or "invalid"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"detail": exc.detail, "code": exc.code}
        if exc.errors:
            body["errors"] = exc.errors
        body.update(exc.extra)
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )

    # DRF converts these two itself, but only inside its handler; convert first so they get
    # a code like every other error.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {
            "detail": "Some fields are not valid.",
            "code": _first_code(exc.detail) if response.status_code == 400 else "invalid",
            "errors": errors,
        }
        response.status_code = status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, exceptions.APIException):
        code = exc.get_codes()
        response.data = {
            "detail": str(exc.detail),
            "code": code if isinstance(code, str) else "error",
        }
    return response


# --- Errors Django answers before a view runs -----------------------------------------
# A URL under /api/ that matches no route (`/api/v1/clinics/1.5/`, a non-numeric patient
# in a nested route) never reaches DRF, so Django answered with its HTML page. API clients
# get the same {"detail", "code"} shape there as everywhere else; staff pages keep the
# styled HTML pages.

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _json_error(status_code: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status_code)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _json_error(404, "Not found.", "not_found")
    return defaults.page_not_found(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _json_error(403, "You do not have permission to perform this action.", "forbidden")
    return defaults.permission_denied(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _json_error(400, "Bad request.", "bad_request")
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return _json_error(500, "Something went wrong on our side.", "server_error")
    return defaults.server_error(request)
