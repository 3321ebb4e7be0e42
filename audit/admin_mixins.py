"""Audit for Django admin pages that show or change patient data."""

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.text import capfirst

from audit.models import AuditEvent
from audit.services import Target, audit_record


class Unnamed:
    """A row as the admin's own change log (LogEntry) should remember it: by kind and id.

    Django stores `str(obj)` in LogEntry.object_repr and shows it on the admin index's
    "Recent actions" panel, with no audit of that read; for a patient that is their name.
    The log keeps "Patient #12" instead, which still links to the row."""

    def __init__(self, obj: models.Model) -> None:
        self.pk = obj.pk
        self._meta = obj._meta

    def __str__(self) -> str:
        return unnamed_repr(self._meta.verbose_name, self.pk)


def unnamed_repr(verbose_name: Any, pk: Any) -> str:
    return f"{capfirst(verbose_name)} #{pk}"


class AuditedAdminMixin(admin.ModelAdmin):
    """Records every patient row an admin list shows, every change page opened, and every
    save, as the API does. Like the API, the page is not sent if the record cannot be made.
    The admin's own change log names these rows by kind and id only (see Unnamed)."""

    # "pk" when the model is Patient itself, else the attribute holding the patient's id.
    audit_patient_attr = "patient_id"

    def _audit(
        self, request: HttpRequest, action: str, objects: list[models.Model], page: str = ""
    ) -> None:
        audit_record(
            request=request,
            action=action,
            targets=[Target.of(obj, self.audit_patient_attr) for obj in objects],
            detail={"view": "admin", "page": page} if page else {"view": "admin"},
        )

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data:
            changelist = response.context_data.get("cl")
            if changelist is not None:
                searched = bool(request.GET.get("q"))
                action = AuditEvent.Action.SEARCH if searched else AuditEvent.Action.READ
                self._audit(request, action, list(changelist.result_list))
        return response

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        obj = kwargs.get("obj")
        if obj is not None and obj.pk is not None:
            self._audit(request, AuditEvent.Action.READ, [obj])
        return super().render_change_form(request, context, *args, **kwargs)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        # The history page names the record and lists what was changed in it.
        response = super().history_view(request, object_id, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data:
            obj = response.context_data.get("object")
            if obj is not None:
                self._audit(request, AuditEvent.Action.READ, [obj], page="history")
        return response

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        # The confirmation page names the record and everything that would go with it.
        response = super().delete_view(request, object_id, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data:
            obj = response.context_data.get("object")
            if obj is not None:
                self._audit(request, AuditEvent.Action.READ, [obj], page="delete")
        return response

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._audit(request, AuditEvent.Action.DELETE, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        self._audit(request, AuditEvent.Action.DELETE, list(queryset))
        super().delete_queryset(request, queryset)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return super().log_addition(request, Unnamed(obj), message)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return super().log_change(request, Unnamed(obj), message)

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        # Django iterates what it is given; a list of stand-ins serves as well as a queryset.
        return super().log_deletions(request, [Unnamed(obj) for obj in queryset])  # type: ignore[arg-type]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        action = AuditEvent.Action.UPDATE if change else AuditEvent.Action.CREATE
        self._audit(request, action, [obj])
