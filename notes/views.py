"""Writing notes in the staff UI: a draft is edited until it is signed, then it is read-only
and corrected only by addenda. Reception sees that notes exist, never their text."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from audit.services import audit_change, audit_read
from nexus.errors import DomainError
from nexus.http import StaffRequest
from notes.forms import AddendumForm, NoteEditForm, NoteForm
from notes.models import ClinicalNote
from notes.outlines import OUTLINES, outline_for
from notes.selectors import note_addenda, note_list
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
    return render(request, "notes/draft.html", {"note": note, "form": form})


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
