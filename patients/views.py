"""Staff pages for patients: the list with instant search, registration and edits, and
the chart, which shows one patient's record in one place."""

from typing import Any, TypedDict

from django.contrib import messages
from django.contrib.auth.context_processors import PermWrapper
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Model
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import get_template
from django.utils import timezone
from django.utils.dateformat import DateFormat
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from appointments.selectors import patient_series
from audit.models import AuditEvent
from audit.services import audit_change, audit_read, audit_record, audit_target
from documents.selectors import document_panel
from nexus.errors import ValidationFailed
from nexus.http import StaffRequest
from nexus.ratelimit import search_limited
from nexus.templatetags.phones import phone_national
from notes.selectors import drafts_exist, note_list, user_can_read_note_body
from patients.chart import CSRF_MARK, NEVER, ChartBody, cached_chart_body
from patients.forms import PatientForm
from patients.models import Patient
from patients.selectors import (
    patient_appointments,
    patient_list,
    patient_search_shown,
)
from patients.services import patient_register, patient_update

CHART_APPOINTMENTS = 10
CHART_NOTES = 20
SEARCH_RESULTS = 25


class SearchRow(TypedDict):
    """A patient in the search results, formatted once: the templates only print. A dict,
    not the model: a template finds a dict's keys at once, where on a model it first tries
    an index and fails (25 rows of a list typed into on every key press)."""

    id: int
    family_name: str
    given_name: str
    preferred_name: str
    born: str  # "10 Dec 1985" (the date filter's "j M Y"), "" when not known
    phone: str  # as the phone filter shows it, "" when none
    medicare_number: str
    alerts: str


def _row(patient: Patient) -> SearchRow:
    born = patient.date_of_birth
    return {
        "id": patient.pk,
        "family_name": patient.family_name,
        "given_name": patient.given_name,
        "preferred_name": patient.preferred_name,
        "born": DateFormat(born).format("j M Y") if born else "",
        "phone": phone_national(patient.phone),
        "medicare_number": patient.medicare_number,
        "alerts": patient.alerts,
    }


def _search(request: StaffRequest) -> tuple[str, list[Patient], bool]:
    """Patients matching ?q=, audited: one event per patient shown, never the search text.
    The third value says more matched than are shown (the page asks to refine)."""
    user = request.user
    term = request.GET.get("q", "").strip()[:100]
    found = patient_search_shown(user=user, term=term, limit=SEARCH_RESULTS + 1, fields=_LISTED)
    more = len(found) > SEARCH_RESULTS
    found = found[:SEARCH_RESULTS]
    audit_read(
        request=request, records=found, view="patient_search", action=AuditEvent.Action.SEARCH
    )
    return term, found, more


_LISTED = (
    "given_name",
    "family_name",
    "preferred_name",
    "date_of_birth",
    "phone",
    "medicare_number",
    "alerts",  # shown when choosing a patient to book
)


def _results(term: str, found: list[Patient], more: bool) -> dict[str, Any]:
    rows = [_row(patient) for patient in found]
    return {"term": term, "patients": found, "rows": rows, "more": more, "limit": SEARCH_RESULTS}


@require_GET
@login_required
@permission_required("patients.view_patient", raise_exception=True)
def patient_index(request: StaffRequest) -> HttpResponse:
    """Find a patient as you type: name, phone or Medicare number."""
    if refused := search_limited(request):
        return refused
    term, found, more = _search(request)
    # The search is in the address (?q=), so Back comes back to it: htmx asks for the whole
    # page when it restores history.
    partial = request.htmx and not request.htmx.history_restore_request
    template = "patients/_results.html" if partial else "patients/index.html"
    return render(request, template, _results(term, found, more))


@require_GET
@login_required
@permission_required("patients.view_patient", raise_exception=True)
def patient_pick(request: StaffRequest) -> HttpResponse:
    """Search results to choose from inside another form (booking)."""
    if refused := search_limited(request):
        return refused
    term, found, more = _search(request)
    return render(request, "patients/_pick.html", _results(term, found, more))


def _show_errors(form: PatientForm, error: ValidationFailed) -> None:
    """A service's field errors beside the fields they name; the rest above the form."""
    for field, messages_ in error.errors.items() or [(None, [error.detail])]:
        form.add_error(field if field in form.fields else None, messages_)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("patients.add_patient", raise_exception=True)
def patient_create(request: StaffRequest) -> HttpResponse:
    form = PatientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = patient_register(created_by=request.user, **form.cleaned_data)
        except ValidationFailed as error:
            _show_errors(form, error)
        else:
            audit_change(request=request, record=patient, view="patient_create", created=True)
            messages.success(request, f"Registered {patient}.")
            return redirect("patients:chart", patient.pk)
    return render(request, "patients/form.html", {"form": form, "patient": None})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("patients.change_patient", raise_exception=True)
def patient_edit(request: StaffRequest, patient_id: int) -> HttpResponse:
    patient = get_object_or_404(patient_list(user=request.user), pk=patient_id)
    form = PatientForm(request.POST or None, instance=patient)
    if request.method == "POST":
        audit_change(request=request, record=patient, view="patient_edit")
    else:
        audit_read(request=request, records=[patient], view="patient_edit")
    if request.method == "POST" and form.is_valid():
        try:
            patient_update(patient=patient, **form.cleaned_data)
        except ValidationFailed as error:
            _show_errors(form, error)
        else:
            messages.success(request, f"Saved {patient}.")
            return redirect("patients:chart", patient.pk)
    return render(request, "patients/form.html", {"form": form, "patient": patient})


# What the chart's notes list shows (a note's name, status, author and AI badge) and what
# the audit event needs: each column left out is one Django neither compiles nor converts.
# `addendum_to__status` is read when the corrected note is loaded (ClinicalNote.from_db).
_CHART_NOTE = (
    "patient",
    "kind",
    "title",
    "status",
    "ai_provenance",
    "created_at",
    "author__full_name",
    "author__email",
    "addendum_to__kind",
    "addendum_to__status",
    "addendum_to__created_at",
    "addendum_to__addendum_to",
)


@require_GET
@login_required
@permission_required("patients.view_patient", raise_exception=True)
def patient_chart(request: StaffRequest, patient_id: int) -> HttpResponse:
    category = request.GET.get("category", "")
    # A chosen category or a letter to write shows a body of its own: rendered, not cached.
    if category or request.GET.get("letter"):
        body = _chart_body(request, patient_id, category=category)
    else:
        body = cached_chart_body(
            user=request.user,
            patient_id=patient_id,
            compute=lambda: _chart_body(request, patient_id, category=""),
        )
    # One event for everything the page shows, cached or not: the record, its notes and its
    # documents, written before the response.
    audit_record(
        request=request,
        action=AuditEvent.Action.READ,
        targets=body.shown,
        detail={"view": "chart"},
    )
    html = body.html
    if CSRF_MARK in html:
        html = html.replace(CSRF_MARK, escape(get_token(request)))
    context = {"title": mark_safe(body.title), "body": mark_safe(html)}  # noqa: S308 - escaped when rendered
    return render(request, "patients/chart.html", context)


def _chart_body(request: StaffRequest, patient_id: int, *, category: str) -> ChartBody:
    """The chart's body as this user may see it, rendered (patients/chart.py keeps it)."""
    user = request.user
    patient = get_object_or_404(
        patient_list(user=user)
        .select_related("home_clinic", "referrer", "coordinator")
        .annotate(has_drafts=drafts_exist()),
        pk=patient_id,
    )
    notes = list(
        note_list(user=user)
        .filter(patient=patient)
        .select_related("addendum_to")
        .only(*_CHART_NOTE)[:CHART_NOTES]
    )
    documents = document_panel(user=user, patient=patient, category=category)
    shown: list[Model] = [patient, *notes, *(documents.documents if documents else [])]
    appointments = patient_appointments(
        user=user, patient_id=patient.pk, now=timezone.now(), limit=CHART_APPOINTMENTS
    )
    # Few patients have repeat bookings: ask for them only when there are some.
    series = patient_series(user=user, patient_id=patient.pk) if appointments.has_series else []
    context = {
        "notes": notes,
        "can_read_notes": user_can_read_note_body(user),
        "patient": patient,
        # A cancelled visit is not coming up: it is listed apart, so nobody expects it.
        "upcoming": appointments.upcoming,
        "cancelled": appointments.cancelled,
        "past": appointments.past,
        "series": series,
        **(documents.context() if documents else {"documents": None}),
        # All the body takes from the request: the context processors are not run for it
        # (the page around it runs them).
        "perms": PermWrapper(user),
        "request": request,
        "csrf_token": CSRF_MARK,
    }
    # The first moment "upcoming" and "past" could split differently: a visit starts.
    starts = [
        *(
            visits[0]["start"]
            for visits in (appointments.upcoming, appointments.cancelled)
            if visits
        ),
        *(s.next_start for s in series if s.next_start),
    ]
    return ChartBody(
        title=f"{escape(patient.given_name)} {escape(patient.family_name)}",
        html=get_template("patients/_chart.html").render(context),
        shown=tuple(audit_target(record) for record in shown),
        lapses=min((start.timestamp() for start in starts), default=NEVER),
        # Everyone sees their own drafts and nobody else's: such a body is this user's alone.
        for_user=user.pk if patient.has_drafts else None,  # type: ignore[attr-defined]
    )
