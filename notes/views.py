"""Writing notes in the staff UI: a draft is edited until it is signed, then it is read-only
and corrected only by addenda. Reception sees that notes exist, never their text."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from audit.services import audit_change, audit_read
from nexus.errors import DomainError
from nexus.http import StaffRequest
from notes.ai import (
    FORMATS,
    ai_draft_discard,
    ai_draft_request,
    ai_drafting_available,
    ai_job_active,
    ai_job_for,
    ai_job_latest,
)
from notes.forms import AddendumForm, AiDraftForm, NoteEditForm, NoteForm
from notes.letters import letter_create
from notes.models import AiJob, ClinicalNote
from notes.outlines import OUTLINES, outline_for
from notes.selectors import documents_for_ai, note_addenda, note_list, note_sources_for_ai
from notes.services import note_add_addendum, note_create, note_sign, note_update
from patients.selectors import patient_list


def _chart(note: ClinicalNote) -> HttpResponse:
    return redirect(reverse("patients:chart", args=[note.patient_id]) + f"#note-{note.pk}")


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(["notes.add_clinicalnote", "notes.view_note_body"], raise_exception=True)
def note_new(request: StaffRequest, patient_id: int) -> HttpResponse:
    patient = get_object_or_404(patient_list(user=request.user), pk=patient_id)
    kind = request.GET.get("kind", ClinicalNote.Kind.PROGRESS)
    form = NoteForm(request.POST or None, initial={"kind": kind, "body": outline_for(kind)})
    if request.method == "POST" and form.is_valid():
        note = note_create(patient=patient, author=request.user, **form.cleaned_data)
        audit_change(request=request, record=note, view="note_new", created=True)
        messages.success(request, "Draft saved. Only you can see it until you sign it.")
        return redirect("notes:edit", note.pk)
    context = {"form": form, "patient": patient, "outlines": OUTLINES}
    return render(request, "notes/new.html", context)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("notes.view_note_body", raise_exception=True)
def note_edit(request: StaffRequest, pk: int) -> HttpResponse:
    """A draft: edit and save, or sign. A signed note: read it, add an addendum."""
    note = get_object_or_404(
        note_list(user=request.user).select_related("patient", "addendum_to"), pk=pk
    )
    if note.status == ClinicalNote.Status.SIGNED:
        return _signed(request, note, AddendumForm())
    form = NoteEditForm(request.POST or None, initial={"title": note.title, "body": note.body})
    if request.method == "POST" and form.is_valid():
        try:
            note = note_update(note=note, by=request.user, **form.cleaned_data)
            audit_change(request=request, record=note, view="note_edit")
            if "sign" in request.POST:
                note = note_sign(note=note, by=request.user)
                audit_change(request=request, record=note, view="note_sign")
                messages.success(request, "Note signed. It can no longer change.")
                return _chart(note)
        except DomainError as error:
            form.add_error("body" if error.field == "body" else None, error.detail)
        else:
            messages.success(request, "Draft saved.")
            return redirect("notes:edit", note.pk)
    else:
        audit_read(request=request, records=[note], view="note_edit")
    return render(request, "notes/draft.html", {"note": note, "form": form, **_ai(request, note)})


def _ai(request: StaffRequest, note: ClinicalNote, form: AiDraftForm | None = None) -> dict:
    """The editor's "Draft with AI" card: shown only when the practice has it on, a key is
    set, and the user may write notes; with the job still running, if there is one."""
    if (
        note.kind == ClinicalNote.Kind.ADDENDUM
        or not request.user.has_perm("notes.change_clinicalnote")
        or not ai_drafting_available()
    ):
        return {"ai_available": False}
    sources = note_sources_for_ai(user=request.user, note=note)
    documents = documents_for_ai(user=request.user, note=note)
    audit_read(request=request, records=[*sources, *documents], view="note_ai_sources")
    if form is None:
        latest = ai_job_latest(note=note, user=request.user)
        failed = latest if latest and latest.status == AiJob.Status.FAILED else None
        initial = {
            "format": note.kind if note.kind in FORMATS else ClinicalNote.Kind.SOAP,
            # A draft that failed keeps the clinician's shorthand for another go.
            "shorthand": failed.shorthand if failed else "",
        }
        form = AiDraftForm(initial=initial, sources=sources, documents=documents)
    return {
        "ai_available": True,
        "ai_form": form,
        "ai_job": ai_job_active(note=note, user=request.user),
    }


def _ai_status(request: StaffRequest, job: AiJob | None, error: str = "") -> HttpResponse:
    if job is not None and job.status == AiJob.Status.DONE:
        messages.success(
            request,
            "The AI draft is in the note. Read and correct every line before you sign it.",
        )
        target = reverse("notes:edit", args=[job.note_id])
        if request.htmx:
            answer = HttpResponse(status=204)
            answer["HX-Redirect"] = target
            return answer
        return redirect(target)
    context = {"ai_job": job, "ai_error": error}
    return render(request, "notes/_ai_status.html", context)


def _ai_refused(request: StaffRequest, note: ClinicalNote, error: str) -> HttpResponse:
    # HTMX swaps only 2xx answers: the card shows the reason in place. Without HTMX the
    # editor shows it as a message.
    if request.htmx:
        return _ai_status(request, None, error)
    messages.error(request, error)
    return redirect("notes:edit", note.pk)


@require_POST
@login_required
@permission_required(["notes.change_clinicalnote", "notes.view_note_body"], raise_exception=True)
def note_ai_draft(request: StaffRequest, pk: int) -> HttpResponse:
    """Ask for an AI draft of this draft note; the card then polls `note_ai_job`."""
    note = get_object_or_404(note_list(user=request.user).select_related("patient"), pk=pk)
    sources = note_sources_for_ai(user=request.user, note=note)
    documents = documents_for_ai(user=request.user, note=note)
    form = AiDraftForm(request.POST, sources=sources, documents=documents)
    if not form.is_valid():
        return _ai_refused(request, note, str(next(iter(form.errors.values()))[0]))
    try:
        job = ai_draft_request(note=note, by=request.user, **form.cleaned_data)
    except DomainError as error:
        return _ai_refused(request, note, error.detail)
    audit_change(request=request, record=job, view="note_ai_draft", created=True)
    job.refresh_from_db()  # in-process, it has run already
    if not request.htmx and job.status != AiJob.Status.DONE:
        if job.status == AiJob.Status.FAILED:
            messages.error(request, job.error)
        return redirect("notes:edit", note.pk)
    return _ai_status(request, job)


@require_http_methods(["GET"])
@login_required
@permission_required("notes.view_note_body", raise_exception=True)
def note_ai_job(request: StaffRequest, pk: int) -> HttpResponse:
    """The card's progress while a draft is written: ids and state only, no clinical text."""
    job = ai_job_for(user=request.user, job_id=pk)
    if job is None:
        raise Http404
    return _ai_status(request, job)


@require_POST
@login_required
@permission_required(["notes.change_clinicalnote", "notes.view_note_body"], raise_exception=True)
def note_ai_discard(request: StaffRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(note_list(user=request.user), pk=pk)
    try:
        note = ai_draft_discard(note=note, by=request.user)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        audit_change(request=request, record=note, view="note_ai_discard")
        messages.success(request, "AI draft discarded: the note is as it was before.")
    return redirect("notes:edit", note.pk)


@require_POST
@login_required
@permission_required(["notes.add_clinicalnote", "notes.view_note_body"], raise_exception=True)
def note_addendum(request: StaffRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(note_list(user=request.user).select_related("patient"), pk=pk)
    form = AddendumForm(request.POST)
    if form.is_valid():
        try:
            addendum = note_add_addendum(
                note=note, author=request.user, body=form.cleaned_data["body"]
            )
        except DomainError as error:
            form.add_error("body", error.detail)
        else:
            audit_change(request=request, record=addendum, view="note_addendum", created=True)
            messages.success(request, "Addendum saved as a draft; sign it to add it to the record.")
            return redirect("notes:edit", addendum.pk)
    return _signed(request, note, form)


@require_POST
@login_required
@permission_required(["notes.view_note_body", "documents.add_document"], raise_exception=True)
def note_letter(request: StaffRequest, pk: int) -> HttpResponse:
    """ "Write letter" on a signed note: the PDF goes on the chart's documents."""
    note = get_object_or_404(
        note_list(user=request.user).select_related("patient__referrer", "patient__coordinator"),
        pk=pk,
    )
    to = request.POST.get("to", "")
    try:
        document = letter_create(note=note, to=to, by=request.user)
    except DomainError as error:
        messages.error(request, error.detail)
        return redirect("notes:edit", note.pk)
    audit_change(request=request, record=document, view="note_letter", created=True)
    messages.success(
        request,
        f"Letter to the {to} saved on the chart as {document.original_name}; "
        "it is ready to send below.",
    )
    # The chart's Email card opens with the letter attached, addressed to its recipient.
    chart = reverse("patients:chart", args=[note.patient_id])
    return redirect(f"{chart}?letter={document.pk}#email-h")


def _signed(request: StaffRequest, note: ClinicalNote, form: AddendumForm) -> HttpResponse:
    """A signed note read in full: its text, then its addenda inline, in order."""
    addenda = note_addenda(user=request.user, note=note)
    audit_read(request=request, records=[note, *addenda], view="note")
    return render(request, "notes/signed.html", {"note": note, "addenda": addenda, "form": form})


@require_POST
@login_required
@permission_required("notes.view_note_body", raise_exception=True)
def note_autosave(request: StaffRequest, pk: int) -> JsonResponse:
    """The draft page saves as the clinician types (static/js/notes.js); the author only."""
    note = get_object_or_404(note_list(user=request.user), pk=pk)
    form = NoteEditForm(request.POST)
    if not form.is_valid():
        return JsonResponse(
            {"detail": "The draft could not be read.", "code": "invalid"}, status=400
        )
    try:
        note = note_update(note=note, by=request.user, **form.cleaned_data)
    except DomainError as error:
        return JsonResponse({"detail": error.detail, "code": error.code}, status=error.status_code)
    audit_change(request=request, record=note, view="note_autosave")
    return JsonResponse({"saved_at": timezone.localtime(note.updated_at).strftime("%-I:%M %p")})
