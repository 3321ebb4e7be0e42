"""The documents panel of the patient chart. Uploads and downloads go through the API
(documents.api.views), which the panel's script calls with the staff session."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit.services import audit_read
from documents.selectors import document_panel, document_patient
from nexus.http import StaffRequest


@require_GET
@login_required
def documents_panel(request: StaffRequest, patient_id: int) -> HttpResponse:
    """The panel alone, for refreshing it after an upload or a category change."""
    patient = document_patient(user=request.user, patient_id=patient_id)  # 404 without access
    panel = document_panel(
        user=request.user, patient=patient, category=request.GET.get("category", "")
    )
    if panel is not None:
        audit_read(request=request, records=panel.documents, view="chart_documents")
    context = {"patient": patient, **(panel.context() if panel else {"documents": None})}
    return render(request, "documents/_panel.html", context)
