"""Denied and failed accesses leave an audit row too (security.md R17, issue 12 item 5).

A signed-in user or API token answered 403 (role or scope refused), 404 (not found, or not
theirs to see) or 409 (refused by a rule) gets one event with outcome `denied` (403/404)
or `failure` (409), naming what was asked for: the object type and id from the route and,
when the object exists, its patient. Nothing the client sent is stored beyond that.

It runs outside the request's transaction (before AuditFailClosedMiddleware in
MIDDLEWARE), so a refused change that is rolled back still leaves its event.
"""

from collections.abc import Callable
from typing import Any

import structlog
from django.apps import apps
from django.db import DatabaseError, models
from django.http import HttpRequest, HttpResponse

from audit.models import AuditEvent
from audit.services import Target, audit_record
from nexus.errors import AuditUnavailable

log = structlog.get_logger(__name__)

_AUDITED_STATUSES = {403: AuditEvent.Outcome.DENIED, 404: AuditEvent.Outcome.DENIED}
_FAILED_STATUSES = {409: AuditEvent.Outcome.FAILURE}
# Staff pages are function views: what their `pk` names, by URL namespace.
_NAMESPACE_MODELS = {
    "notes": "notes.ClinicalNote",
    "appointments": "appointments.Appointment",
}
_ACTIONS = {
    "GET": AuditEvent.Action.READ,
    "HEAD": AuditEvent.Action.READ,
    "POST": AuditEvent.Action.CREATE,
    "PUT": AuditEvent.Action.UPDATE,
    "PATCH": AuditEvent.Action.UPDATE,
    "DELETE": AuditEvent.Action.DELETE,
}


class DeniedAccessAuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        status = response.status_code
        outcome = _AUDITED_STATUSES.get(status) or _FAILED_STATUSES.get(status)
        if outcome is None or getattr(request, "nexus_audited_failure", False):
            return response  # Not a refusal, or the view recorded it already.
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return response  # Anonymous scanners would only fill the table.
        try:
            audit_record(
                request=request,
                action=_ACTIONS.get(request.method or "", AuditEvent.Action.READ),
                targets=[_target(request)],
                outcome=outcome,
                detail={"status": status, "route": _route(request)},
            )
        except AuditUnavailable:
            # The answer is a refusal and shows nothing; it goes out even so (logged).
            log.error("audit.denied_access_unrecorded", status=status)
        return response


def _route(request: HttpRequest) -> str:
    match = request.resolver_match
    return match.view_name if match is not None else ""


def _model_of(request: HttpRequest) -> type[models.Model] | None:
    match = request.resolver_match
    if match is None:
        return None
    view_class: Any = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
    queryset = getattr(view_class, "queryset", None)
    if queryset is not None:
        return queryset.model
    model = getattr(view_class, "model", None)
    if model is not None:
        return model
    label = _NAMESPACE_MODELS.get(match.namespace)
    return apps.get_model(label) if label else None


def _target(request: HttpRequest) -> Target:
    from patients.models import Patient

    match = request.resolver_match
    kwargs = match.kwargs if match is not None else {}
    model = _model_of(request)
    patient_ref = kwargs.get("patient_id") or kwargs.get("patient_pk")
    object_id = str(kwargs.get("pk") or patient_ref or "")[:64]
    object_type = model._meta.label_lower if model is not None else "http.route"
    if patient_ref is not None and not kwargs.get("pk"):
        object_type = Patient._meta.label_lower
    patient_id: int | None = None
    try:
        if patient_ref is not None:
            patient_id = (
                Patient.objects.filter(pk=int(patient_ref)).values_list("pk", flat=True).first()
            )
        elif model is Patient and kwargs.get("pk"):
            patient_id = (
                Patient.objects.filter(pk=int(kwargs["pk"])).values_list("pk", flat=True).first()
            )
        elif model is not None and kwargs.get("pk") and _has_patient(model):
            # Whose record was asked for, even though the asker may not see it.
            patient_id = (
                model._default_manager.filter(pk=int(kwargs["pk"]))
                .values_list("patient_id", flat=True)
                .first()
            )
    except (TypeError, ValueError, OverflowError, DatabaseError):
        patient_id = None
    return Target(object_type, object_id, patient_id)


def _has_patient(model: type[models.Model]) -> bool:
    return any(f.name == "patient" and f.is_relation for f in model._meta.get_fields())
