"""The printable day sheet: one clinic's (or one clinician's) appointments for a day, in
order, with what the front desk needs at hand. Times are the clinic's wall-clock times."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.models import User
from appointments.models import Appointment
from appointments.selectors import appointment_list
from audit.services import audit_read
from clinicians.models import Clinic, Clinician
from clinicians.selectors import clinic_chosen, clinics_open
from nexus.dates import parse_date
from nexus.http import StaffRequest

SHEET_FIELDS = (
    "patient__given_name",
    "patient__family_name",
    "patient__date_of_birth",
    "patient__phone",
    "patient__alerts",
    "clinician__title",
    "clinician__given_name",
    "clinician__family_name",
    "clinic__timezone",
    "appointment_type__name",
    "appointment_type__colour",
)


@dataclass
class SheetRow:
    start: time
    end: time
    appointment: Appointment


@dataclass
class Sheet:
    clinician: Clinician
    rows: list[SheetRow] = field(default_factory=list)


def day_sheets(*, user: User, clinic: Clinic, day: date, clinician_ids: list[int]) -> list[Sheet]:
    """A sheet per clinician with appointments that day (or per chosen clinician), in one
    query for the appointments and one for the chosen clinicians."""
    tz = clinic.tz
    start = datetime.combine(day, time.min, tzinfo=tz)
    appointments = (
        appointment_list(user=user)
        .filter(clinic=clinic, start__gte=start, start__lt=start + timedelta(days=1))
        .exclude(status=Appointment.Status.CANCELLED)
        # The sheet shows more of the patient than the list loads (only() replaces its set).
        .only(
            *(f.name for f in Appointment._meta.concrete_fields if not f.is_relation),
            *SHEET_FIELDS,
        )
        .order_by("clinician__family_name", "clinician__given_name", "clinician_id", "start")
    )
    if clinician_ids:
        appointments = appointments.filter(clinician_id__in=clinician_ids)
    sheets: dict[int, Sheet] = {}
    if clinician_ids:
        chosen = Clinician.objects.filter(pk__in=clinician_ids, clinics=clinic)
        for clinician in chosen.order_by("family_name", "given_name"):
            sheets[clinician.pk] = Sheet(clinician)
    for a in appointments:
        sheet = sheets.setdefault(a.clinician_id, Sheet(a.clinician))
        sheet.rows.append(
            SheetRow(
                timezone.localtime(a.start, tz).time(), timezone.localtime(a.end, tz).time(), a
            )
        )
    return list(sheets.values())


@require_GET
@login_required
@permission_required("appointments.view_appointment", raise_exception=True)
def day_sheet(request: StaffRequest) -> HttpResponse:
    user = request.user
    clinic = clinic_chosen(session=request.session, chosen=request.GET.get("clinic", ""))
    if clinic is None:
        raise Http404("No clinic is open.")
    day = parse_date(request.GET.get("date", "")) or timezone.localdate(timezone=clinic.tz)
    # Ids beyond a 32-bit key are nobody (and would overflow SQLite's integer).
    chosen = [int(c) for c in request.GET.getlist("clinician") if c.isdigit() and len(c) < 10]
    sheets = day_sheets(user=user, clinic=clinic, day=day, clinician_ids=chosen)
    shown = [row.appointment for sheet in sheets for row in sheet.rows]
    audit_read(request=request, records=shown, view="day_sheet")
    context = {
        "clinic": clinic,
        "clinics": clinics_open(),
        "day": day,
        "sheets": sheets,
        "chosen": chosen,
        "clinicians": Clinician.objects.filter(clinics=clinic, is_active=True).order_by(
            "family_name", "given_name"
        ),
    }
    return render(request, "appointments/day_sheet.html", context)
