"""Practice setup for admins: clinicians, their weekly hours and their time off.

The same rows are editable in the Django admin; these pages are the ones a practice manager
uses day to day, with the week's hours on one form and leave entered in clinic-local time.
"""

import filetype
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from appointments.selectors import appointments_during_time_off
from audit.services import audit_change, audit_read
from clinicians.forms import ClinicForm, ClinicianForm, TimeOffForm, WorkingHoursFormSet
from clinicians.models import Clinic, Clinician, TimeOff, WorkingHours
from clinicians.services import clinic_logo_bytes, clinic_save, time_off_remove, working_hours_added
from nexus.errors import DomainError
from nexus.http import StaffRequest

CLASHES_NAMED = 10  # the time-off warning names this many appointments, then "and more"


@require_GET
@login_required
@permission_required("clinicians.change_clinician", raise_exception=True)
def clinician_index(request: HttpRequest) -> HttpResponse:
    clinicians = Clinician.objects.prefetch_related(
        "disciplines",
        "clinics",
        Prefetch("working_hours", queryset=WorkingHours.objects.select_related("clinic")),
    ).order_by("-is_active", "family_name", "given_name")
    return render(request, "clinicians/index.html", {"clinicians": clinicians})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("clinicians.change_clinician", raise_exception=True)
def clinician_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A clinician's profile and weekly hours, saved together or not at all."""
    if pk is None and not request.user.has_perm("clinicians.add_clinician"):
        return HttpResponse(status=403)
    clinician = get_object_or_404(Clinician, pk=pk) if pk else Clinician()
    form = ClinicianForm(request.POST or None, instance=clinician)
    # The hours are checked against the clinics ticked on this same form.
    clinics = list(form.cleaned_data["clinics"]) if form.is_bound and form.is_valid() else None
    hours = WorkingHoursFormSet(
        request.POST or None, instance=clinician, prefix="hours", clinics=clinics
    )
    if request.method == "POST" and form.is_valid() and hours.is_valid():
        with transaction.atomic():
            clinician = form.save()
            hours.instance = clinician
            hours.save()
            if grown := [*hours.new_objects, *(row for row, _ in hours.changed_objects)]:
                working_hours_added(
                    clinician_id=clinician.pk, clinic_ids=[row.clinic_id for row in grown]
                )
        messages.success(request, f"Saved {clinician}.")
        return redirect("clinicians:edit", clinician.pk)
    context = {
        "form": form,
        "hours": hours,
        "clinician": clinician if clinician.pk else None,
        **(_time_off_context(clinician) if clinician.pk else {}),
    }
    return render(request, "clinicians/form.html", context)


def _time_off_context(clinician: Clinician, form: TimeOffForm | None = None) -> dict:
    """Upcoming leave, each shown in its clinic's time (the first clinic's when it applies
    everywhere), the same zone the form reads it in."""
    home = clinician.clinics.first() or Clinic()
    upcoming = list(clinician.time_off.filter(end__gt=timezone.now()).select_related("clinic"))
    for leave in upcoming:
        leave.zone = (leave.clinic or home).tz  # type: ignore[attr-defined]
    return {"time_off": upcoming, "time_off_form": form or TimeOffForm(clinician=clinician)}


@require_POST
@login_required
# Clinicians may hold the time-off permissions too; these pages are the admin's setup.
@permission_required(
    ["clinicians.change_clinician", "clinicians.add_timeoff"], raise_exception=True
)
def time_off_add(request: HttpRequest, pk: int) -> HttpResponse:
    clinician = get_object_or_404(Clinician, pk=pk)
    form = TimeOffForm(request.POST, clinician=clinician)
    if not form.is_valid():
        messages.error(request, "The time off was not added; see the errors below.")
        context = {
            "form": ClinicianForm(instance=clinician),
            "hours": WorkingHoursFormSet(instance=clinician, prefix="hours"),
            "clinician": clinician,
            **_time_off_context(clinician, form),
        }
        return render(request, "clinicians/form.html", context, status=400)
    leave = form.save()
    clashes = appointments_during_time_off(leave=leave)
    clashing = list(clashes[: CLASHES_NAMED + 1])
    if clashing:
        named = clashing[:CLASHES_NAMED]
        audit_read(request=request, records=named, view="time_off_clashes")  # names shown
        listed = "; ".join(
            f"{a.local_start:%a %-d %b %-I:%M %p} {a.patient.full_name}" for a in named
        )
        count = clashes.count() if len(clashing) > CLASHES_NAMED else len(clashing)
        more = " and more" if len(clashing) > CLASHES_NAMED else ""
        messages.warning(
            request,
            f"Time off added, but {count} booked appointment{'s' if count > 1 else ''} "
            f"fall in it: {listed}{more}. "
            "They are marked on the calendar; move or cancel them there.",
        )
    else:
        messages.success(request, "Time off added.")
    return redirect("clinicians:edit", clinician.pk)


@require_POST
@login_required
@permission_required(
    ["clinicians.change_clinician", "clinicians.delete_timeoff"], raise_exception=True
)
def time_off_delete(request: HttpRequest, pk: int) -> HttpResponse:
    leave = get_object_or_404(TimeOff, pk=pk)
    time_off_remove(leave=leave)
    messages.success(request, "Time off removed.")
    return redirect("clinicians:edit", leave.clinician_id)


# --- clinics: the details letters print on their letterhead ------------------------------


@require_GET
@login_required
@permission_required("clinicians.change_clinic", raise_exception=True)
def clinic_index(request: StaffRequest) -> HttpResponse:
    clinics = Clinic.objects.order_by("-is_active", "name")
    return render(request, "clinicians/clinics.html", {"clinics": clinics})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("clinicians.change_clinic", raise_exception=True)
def clinic_edit(request: StaffRequest, pk: int | None = None) -> HttpResponse:
    if pk is None and not request.user.has_perm("clinicians.add_clinic"):
        return HttpResponse(status=403)
    clinic = get_object_or_404(Clinic, pk=pk) if pk else Clinic()
    form = ClinicForm(request.POST or None, request.FILES or None, instance=clinic)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        created = clinic.pk is None
        # The form has written its values onto `clinic`: the service compares a fresh copy.
        saved = Clinic.objects.get(pk=clinic.pk) if clinic.pk else Clinic()
        try:
            changed = clinic_save(
                clinic=saved,
                changes={name: data[name] for name in ClinicForm.Meta.fields},
                logo=data["logo"] or None,
                remove_logo=data["remove_logo"],
                by=request.user,
            )
        except DomainError as error:
            form.add_error("logo" if error.field == "file" else None, error.detail)
        else:
            audit_change(
                request=request,
                record=saved,
                view="clinic_edit",
                created=created,
                detail={"fields": sorted(changed)},
            )
            messages.success(request, f"Saved {saved.name}.")
            return redirect("clinics:edit", saved.pk)
    status = 400 if form.is_bound else 200
    return render(
        request,
        "clinicians/clinic_form.html",
        {"form": form, "clinic": clinic if clinic.pk else None},
        status=status,
    )


@require_GET
@login_required
@permission_required("clinicians.change_clinic", raise_exception=True)
def clinic_logo(request: StaffRequest, pk: int) -> HttpResponse:
    """The logo, for the setup page's preview."""
    clinic = get_object_or_404(Clinic, pk=pk)
    data = clinic_logo_bytes(clinic)
    if data is None:
        return HttpResponse(status=404)
    kind = filetype.guess(data)
    response = HttpResponse(data, content_type=kind.mime if kind else "application/octet-stream")
    response["Cache-Control"] = "private, no-store"
    return response
