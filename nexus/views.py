from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from appointments.models import Appointment
from appointments.selectors import appointments_of_the_day
from appointments.services import appointment_next_statuses
from audit.services import audit_read
from clinicians.selectors import clinic_chosen, clinician_of, clinics_open
from nexus.http import StaffRequest
from notes.selectors import note_drafts

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
    clinic = clinic_chosen(session=request.session, chosen=request.GET.get("clinic", ""))
    if clinic is not None and user.has_perm("appointments.view_appointment"):
        today = timezone.localdate(timezone=clinic.tz)
        me = clinician_of(user=user)
        todays = list(
            appointments_of_the_day(user=user, clinic=clinic, day=today, clinician=me)[:TODAY_LIMIT]
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
            "clinics": clinics_open(),
            "mine": me is not None,
            "today": today,
            "appointments": todays,
            "arrived": [a for a in todays if a.status == Appointment.Status.ARRIVED],
        }
    if user.has_perm("notes.add_clinicalnote"):
        context["drafts"] = drafts = list(note_drafts(author=user)[:20])
        audit_read(request=request, records=drafts, view="dashboard_drafts")
    return render(request, "home.html", context)
