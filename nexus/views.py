from datetime import datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from appointments.models import Appointment
from appointments.selectors import appointment_list
from appointments.services import appointment_next_statuses
from audit.services import audit_read
from clinicians.models import Clinic, Clinician
from clinicians.selectors import clinic_remembered
from nexus.http import StaffRequest
from notes.models import ClinicalNote

TODAY_LIMIT = 100
QUICK_STATUSES = (Appointment.Status.ARRIVED, Appointment.Status.COMPLETED)


@require_GET
@login_required
def home(request: StaffRequest) -> HttpResponse:
    """The day at a glance: today's appointments (a clinician's own, otherwise the
    clinic's), who has arrived, and the signed-in clinician's unsigned notes."""
    user = request.user
    context: dict[str, object] = {}
    # An unknown or closed clinic falls back to the one chosen earlier, then the first one.
    clinic = clinic_remembered(session=request.session, chosen=request.GET.get("clinic", ""))
    if clinic is not None and user.has_perm("appointments.view_appointment"):
        today = timezone.localdate(timezone=clinic.tz)
        start = datetime.combine(today, time.min, tzinfo=clinic.tz)
        appointments = appointment_list(user=user).filter(
            clinic=clinic, start__gte=start, start__lt=start + timedelta(days=1)
        )
        me = Clinician.objects.filter(user=user).first()
        if me is not None:
            appointments = appointments.filter(clinician=me)
        todays = list(
            appointments.exclude(status=Appointment.Status.CANCELLED).order_by("start")[
                :TODAY_LIMIT
            ]
        )
        audit_read(request=request, records=todays, view="dashboard")
        if user.has_perm("appointments.change_appointment"):
            for a in todays:  # one-click Arrived / Completed, where the rules allow it now
                allowed = appointment_next_statuses(appointment=a)
                a.quick_statuses = [  # type: ignore[attr-defined]
                    (s, Appointment.Status(s).label) for s in QUICK_STATUSES if s in allowed
                ]
        context |= {
            "clinic": clinic,
            "clinics": Clinic.objects.filter(is_active=True).order_by("name"),
            "mine": me is not None,
            "today": today,
            "appointments": todays,
            "arrived": [a for a in todays if a.status == Appointment.Status.ARRIVED],
        }
    if user.has_perm("notes.add_clinicalnote"):
        context["drafts"] = drafts = list(
            ClinicalNote.objects.filter(author=user, status=ClinicalNote.Status.DRAFT)
            .select_related("patient")
            .only(
                "id", "kind", "title", "created_at", "patient__given_name", "patient__family_name"
            )
            .order_by("created_at")[:20]
        )
        audit_read(request=request, records=drafts, view="dashboard_drafts")
    return render(request, "home.html", context)
