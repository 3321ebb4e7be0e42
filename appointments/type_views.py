"""Practice setup for admins: the appointment types the calendar and online booking offer.

Types are never deleted, because appointments refer to them; an admin makes one inactive.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from appointments.forms import AppointmentTypeForm
from appointments.models import AppointmentType


@require_GET
@login_required
@permission_required("appointments.change_appointmenttype", raise_exception=True)
def type_index(request: HttpRequest) -> HttpResponse:
    types = AppointmentType.objects.annotate(booked=Count("appointments")).order_by(
        "-is_active", "name"
    )
    return render(request, "appointments/types.html", {"types": types})


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("appointments.change_appointmenttype", raise_exception=True)
def type_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    if pk is None and not request.user.has_perm("appointments.add_appointmenttype"):
        return HttpResponse(status=403)
    kind = get_object_or_404(AppointmentType, pk=pk) if pk else AppointmentType()
    form = AppointmentTypeForm(request.POST or None, instance=kind)
    if request.method == "POST" and form.is_valid():
        kind = form.save()
        messages.success(request, f"Saved {kind.name}.")
        return redirect("appointment_types:index")
    return render(request, "appointments/type_form.html", {"form": form, "kind": kind})
