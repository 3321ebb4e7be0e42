from typing import Any, cast

from django.db import models
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from audit.models import AuditEvent
from audit.services import Target, audit_record
from nexus.errors import AuditUnavailable
from nexus.middleware import audit_failed

Action = AuditEvent.Action

_ACTIONS = {
    "retrieve": Action.READ,
    "create": Action.CREATE,
    "partial_update": Action.UPDATE,
    "update": Action.UPDATE,
    "destroy": Action.DELETE,
}


class AuditedViewSetMixin(viewsets.GenericViewSet[Any]):
    """Records every read and write of patient data made through a viewset.

    Objects reach the trail from the two places DRF hands them out: `get_object()` (detail
    routes and actions) and `paginate_queryset()` (lists, one event per patient row shown).
    Creations are recorded from the response. The event is written in `finalize_response`,
    before the data leaves: if the write fails, the request fails.
    """

    # How to find the patient on an object: "pk" for Patient itself, else "patient_id".
    audit_patient_attr = "patient_id"
    audit_detail_actions: dict[str, str] = {}
    # An action may set `self.audit_extra` (a dict, never patient data) to say more in the
    # event's detail, e.g. what an undo undid.

    def get_object(self) -> Any:
        obj = super().get_object()
        self._audited = [obj]
        return obj

    def paginate_queryset(self, queryset: Any) -> Any:
        page = super().paginate_queryset(queryset)
        self._audited = list(page) if page is not None else []
        return page

    def _targets(self, response: Response) -> list[Target]:
        objects = getattr(self, "_audited", None) or []
        created = response.status_code == 201 and isinstance(response.data, dict)
        if not objects and not created:
            return []  # Nothing was handed out (refused, invalid, or an empty page).
        if created:
            # The class's queryset, not get_queryset(): that one is scoped to a user.
            model = cast(models.QuerySet[Any], type(self).queryset).model
            data = response.data
            patient = data["id"] if self.audit_patient_attr == "pk" else data.get("patient")
            return [Target(model._meta.label_lower, str(data["id"]), patient)]
        return Target.of_each(objects, self.audit_patient_attr)

    def _action(self) -> str:
        if self.action == "list":
            return Action.SEARCH if self.request.query_params.get("search") else Action.READ
        if self.action in _ACTIONS:
            return _ACTIONS[self.action]
        return self.audit_detail_actions.get(self.action or "", Action.UPDATE)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        targets = self._targets(response)
        if targets:
            ok = response.status_code < 400
            try:
                audit_record(
                    request=request,
                    action=self._action(),
                    targets=targets,
                    outcome=AuditEvent.Outcome.SUCCESS if ok else AuditEvent.Outcome.FAILURE,
                    # The route and status, never the search text: it is usually a name.
                    detail={
                        "view": self.action,
                        "status": response.status_code,
                        **getattr(self, "audit_extra", {}),
                    },
                )
            except AuditUnavailable as error:
                audit_failed(request)
                # DRF's dispatch does not route errors from here to the exception handler.
                response = self.handle_exception(error)
        return super().finalize_response(request, response, *args, **kwargs)
