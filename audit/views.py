"""Staff pages over the audit trail: who accessed a patient's record, and what a staff
member did. Practice admins only (audit.view_auditevent)."""

import csv
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.apps import apps
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.models import User
from audit.models import AuditEvent
from audit.selectors import auditevent_for_patient
from audit.services import MIXED_KINDS, Target, audit_read, audit_record
from nexus.dates import parse_date
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
        auditevent_for_patient(patient_id=patient.pk)
        .select_related("actor")
        .order_by("-occurred_at", "-id")
    )
    page = _page(request, events)
    for event in page.events:
        event.record_label = _record_label(event.object_type)  # type: ignore[attr-defined]
    context = {"patient": patient, "page": page}
    return render(request, "audit/patient_access.html", context)


@require_GET
@login_required
@permission_required("audit.view_auditevent", raise_exception=True)
def activity(request: HttpRequest) -> HttpResponse:
    """What one staff member (or everyone) did, newest first, filtered by person, action and
    date range (the practice's days); ?format=csv downloads the same rows."""
    staff = User.objects.only("id", "email", "full_name").order_by("full_name", "email")
    actor_id = request.GET.get("actor", "")
    action = request.GET.get("action", "")
    since, until = parse_date(request.GET.get("from", "")), parse_date(request.GET.get("to", ""))
    events = (
        AuditEvent.objects.select_related("actor", "patient")
        .defer(
            *(
                f"patient__{f.name}"
                for f in Patient._meta.concrete_fields
                if f.name not in PATIENT_NAME
            )
        )
        .order_by("-occurred_at", "-id")
    )
    if actor_id.isdigit() and len(actor_id) < 10:
        events = events.filter(actor_id=int(actor_id))
    if action in AuditEvent.Action.values:
        events = events.filter(action=action)
    tz = timezone.get_current_timezone()
    if since:
        events = events.filter(occurred_at__gte=datetime.combine(since, time.min, tzinfo=tz))
    if until:
        end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=tz)
        events = events.filter(occurred_at__lt=end)
    filters = {"actor": actor_id, "action": action, "from": since or "", "to": until or ""}
    query = urlencode({k: v for k, v in filters.items() if v})
    if request.GET.get("format") == "csv":
        return _csv(request, events[:CSV_LIMIT], filters)
    page = _page(request, events)
    _name_records(request, page.events)
    context = {
        "staff": staff,
        "actor_id": actor_id,
        "action": action,
        "since": since,
        "until": until,
        "actions": AuditEvent.Action.choices,
        "query": query,
        "page": page,
    }
    return render(request, "audit/activity.html", context)


PATIENT_NAME = ("id", "given_name", "family_name")
CSV_LIMIT = 50_000  # rows in one export; narrow the dates for more


def _record_label(object_type: str) -> str:
    """'patients.patient' -> 'Patient', 'notes.clinicalnote' -> 'Clinical note'."""
    if object_type == MIXED_KINDS:
        return "Records"
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return object_type
    return str(model._meta.verbose_name).capitalize()


def _name_records(request: HttpRequest, events: list[AuditEvent]) -> None:
    """Readable names for the page: the record's kind and the patient's name (joined into
    the events query). Showing patient names is itself a read of those records, so it is
    recorded: one INSERT for the page."""
    patients = {e.patient_id: e.patient for e in events if e.patient_id and e.patient}
    audit_read(request=request, records=list(patients.values()), view="audit_activity")
    for event in events:
        event.record_label = _record_label(event.object_type)  # type: ignore[attr-defined]
        event.patient_name = event.patient.full_name if event.patient else ""  # type: ignore[attr-defined]


def _csv(request: HttpRequest, events: QuerySet[AuditEvent], filters: dict) -> HttpResponse:
    """The filtered trail as CSV. The export is recorded first: it is itself an access."""
    audit_record(
        request=request,
        action=AuditEvent.Action.EXPORT,
        targets=[Target("audit.auditevent", "csv", None)],
        detail={"view": "audit_export", **{k: str(v) for k, v in filters.items() if v}},
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["When", "Who", "Action", "Outcome", "Record", "Record id", "Patient id", "From"]
    )
    for e in events.iterator(chunk_size=2_000):
        writer.writerow(
            [
                timezone.localtime(e.occurred_at).isoformat(),
                str(e.actor) if e.actor else (f"API token {e.token_id}" if e.token_id else ""),
                e.get_action_display(),
                e.outcome,
                _record_label(e.object_type),
                # A page of records is one event: its ids, space-separated.
                e.object_id or " ".join(e.object_ids),
                e.patient_id or " ".join(str(p) for p in e.patient_ids),
                e.ip or "",
            ]
        )
    return response
