"""The documents panel of the patient chart. Uploads and downloads go through the API
(documents.api.views), which the panel's script calls with the staff session."""

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.models import User
from audit.models import AuditEvent
from audit.services import Target, audit_record
from documents.models import Document
from documents.selectors import document_list, document_patient
from patients.models import Patient

PANEL_SIZE = 50


def documents_context(request: HttpRequest, patient: Patient) -> dict[str, Any]:
    """The documents shown for a patient (audited as read), or none without permission."""
    user: User = request.user  # type: ignore[assignment]
    if not user.has_perm("documents.view_document"):
        return {"documents": None}
    category = request.GET.get("category", "")
    documents = document_list(user=user).filter(patient=patient).select_related("uploaded_by")
    if category in Document.Category.values:
        documents = documents.filter(category=category)
    shown = list(documents[:PANEL_SIZE])
    if shown:
        audit_record(
            request=request,
            action=AuditEvent.Action.READ,
            targets=[Target.of(d, "patient_id") for d in shown],
            detail={"view": "chart_documents"},
        )
    return {
        "documents": shown,
        "document_categories": Document.Category.choices,
        "document_category": category,
        "can_upload": user.has_perm("documents.add_document"),
        "max_upload_mb": settings.NEXUS_DOCUMENT_MAX_MB,
    }


@require_GET
@login_required
def documents_panel(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The panel alone, for refreshing it after an upload or a category change."""
    user: User = request.user  # type: ignore[assignment]
    patient = document_patient(user=user, patient_id=patient_id)  # 404 without access
    context = {"patient": patient, **documents_context(request, patient)}
    return render(request, "documents/_panel.html", context)
