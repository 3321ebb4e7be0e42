"""The documents panel of the patient chart. Uploads and downloads go through the API
(documents.api.views), which the panel's script calls with the staff session."""

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit.services import audit_read
from documents.models import Document
from documents.selectors import document_list, document_patient
from nexus.http import StaffRequest
from patients.models import Patient

PANEL_SIZE = 50


def documents_context(request: StaffRequest, patient: Patient) -> dict[str, Any]:
    """The documents shown for a patient (audited as read), or none without permission."""
    user = request.user
    if not user.has_perm("documents.view_document"):
        return {"documents": None}
    category = request.GET.get("category", "")
    documents = document_list(user=user).filter(patient=patient).select_related("uploaded_by")
    if category in Document.Category.values:
        documents = documents.filter(category=category)
    shown = list(documents[:PANEL_SIZE])
    audit_read(request=request, records=shown, view="chart_documents")
    return {
        "documents": shown,
        "document_categories": Document.Category.choices,
        "document_category": category,
        "can_upload": user.has_perm("documents.add_document"),
        "max_upload_mb": settings.NEXUS_DOCUMENT_MAX_MB,
    }


@require_GET
@login_required
def documents_panel(request: StaffRequest, patient_id: int) -> HttpResponse:
    """The panel alone, for refreshing it after an upload or a category change."""
    patient = document_patient(user=request.user, patient_id=patient_id)  # 404 without access
    context = {"patient": patient, **documents_context(request, patient)}
    return render(request, "documents/_panel.html", context)
