"""Staff pages over the audit trail: who accessed a patient's record, and what a staff
member did. Practice admins only (audit.view_auditevent)."""

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from accounts.models import User
from audit.models import AuditEvent
from audit.services import audit_read
from patients.models import Patient

PAGE_SIZE = 50


@dataclass
class EventPage:
    events: list[AuditEvent]
    number: int
    has_next: bool


def _page(request: HttpRequest, events: QuerySet[AuditEvent]) -> EventPage:
    # No page count: the trail only grows, and counting it costs more than the page itself.
    raw = request.GET.get("page", "1")
    number = int(raw) if raw.isdigit() and 0 < int(raw) < 10_000 else 1
    start = (number - 1) * PAGE_SIZE
    rows = list(events[start : start + PAGE_SIZE + 1])
    return EventPage(rows[:PAGE_SIZE], number, len(rows) > PAGE_SIZE)


@require_GET
@login_required
@permission_required("audit.view_auditevent", raise_exception=True)
def patient_access(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Everyone who read or changed this patient's record, newest first."""
    patient = get_object_or_404(
        Patient.objects.only("id", "given_name", "family_name"), pk=patient_id
    )
    # Showing the name on this page is itself a read of the record.
    audit_read(request=request, records=[patient], view="access_log")
    events = (
        AuditEvent.objects.filter(patient=patient)
        .select_related("actor")
        .order_by("-occurred_at", "-id")
    )
    context = {"patient": patient, "page": _page(request, events)}
    return render(request, "audit/patient_access.html", context)


@require_GET
@login_required
@permission_required("audit.view_auditevent", raise_exception=True)
def activity(request: HttpRequest) -> HttpResponse:
    """What one staff member (or everyone) did, newest first."""
    staff = User.objects.only("id", "email", "full_name").order_by("full_name", "email")
    actor_id = request.GET.get("actor", "")
    events = AuditEvent.objects.select_related("actor").order_by("-occurred_at", "-id")
    if actor_id.isdigit():
        events = events.filter(actor_id=int(actor_id))
    context = {"staff": staff, "actor_id": actor_id, "page": _page(request, events)}
    return render(request, "audit/activity.html", context)
