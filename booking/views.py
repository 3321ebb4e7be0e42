"""Public online booking: find a clinician, choose a time, give your details, done.

No sign-in. Only clinicians marked `listed_publicly` and appointment types marked
`bookable_online` appear. Nothing about patients is shown here, and the confirmation and
cancel links carry only a signed appointment id. A booking never joins an existing patient
record: it waits for reception's review (appointments.online).
"""

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from appointments.links import appointment_from_link_token, appointment_link_token
from appointments.models import Appointment, AppointmentType
from appointments.online import OnlineBookingFull, appointment_book_online
from appointments.selectors import Slot, clinician_availability
from appointments.services import appointment_cancel
from audit.services import audit_change
from booking.forms import PatientDetailsForm
from booking.verification import (
    PendingBooking,
    verification_check,
    verification_forget,
    verification_pending,
    verification_start,
)
from clinicians.models import Clinic, Clinician, Discipline
from clinicians.selectors import clinician_search
from nexus.dates import parse_aware_datetime
from nexus.errors import DomainError
from nexus.metrics import BOOKING_FUNNEL
from nexus.ratelimit import rate_limited
from nexus.timezones import in_zone, zone_label, zone_notes

DAYS_AHEAD = 14  # how far the directory looks for each clinician's next times
WEEKS_AHEAD = 4  # how far a clinician's page can be paged, a week at a time
NEXT_TIMES = 3


def _funnel(step: str) -> None:
    BOOKING_FUNNEL.inc(step)


def _listed() -> QuerySet[Clinician]:
    return Clinician.objects.filter(listed_publicly=True, is_active=True)


def _bookable_types() -> QuerySet[AppointmentType]:
    return AppointmentType.objects.filter(bookable_online=True, is_active=True).order_by(
        "duration_minutes", "name"
    )


def _limited(request: HttpRequest, scope: str, limit: int) -> HttpResponse | None:
    return rate_limited(request, scope=f"booking:{scope}", limit=limit, per_seconds=60)


@require_http_methods(["GET"])
def directory(request: HttpRequest) -> HttpResponse:
    if refused := _limited(request, "directory", 60):
        return refused
    _funnel("directory_search")
    clinicians = (
        _listed().prefetch_related("disciplines", "clinics").order_by("family_name", "given_name")
    )
    name = request.GET.get("q", "").strip()[:80]
    discipline = request.GET.get("discipline", "")
    clinic = request.GET.get("clinic", "")
    clinicians = clinician_search(clinicians, name)
    if discipline.isdigit():
        clinicians = clinicians.filter(disciplines=int(discipline))
    if clinic.isdigit():
        clinicians = clinicians.filter(clinics=int(clinic))
    # The next times depend on how long the visit is: the patient chooses the service first
    # (it was silently the shortest type), unless only one is offered.
    types = list(_bookable_types())
    chosen = request.GET.get("type", "")
    service = next((t for t in types if str(t.pk) == chosen), types[0] if len(types) == 1 else None)
    today = timezone.localdate()
    listing = []
    for clinician in clinicians.distinct()[:30]:
        slots = (
            clinician_availability(
                clinician=clinician,
                appointment_type=service,
                start_date=today,
                end_date=today + timedelta(days=DAYS_AHEAD),
            )[:NEXT_TIMES]
            if service
            else []
        )
        listing.append((clinician, slots))
    context = {
        "listing": listing,
        "q": name,
        "discipline": discipline,
        "clinic": clinic,
        "disciplines": Discipline.objects.filter(clinicians__listed_publicly=True).distinct(),
        "clinics": Clinic.objects.filter(
            is_active=True, clinicians__listed_publicly=True
        ).distinct(),
        "types": types,
        "service": service,
        "zones": zone_notes(places=((s.clinic, s.start) for _, slots in listing for s in slots)),
    }
    return render(request, "booking/directory.html", context)


@require_http_methods(["GET"])
def clinician_page(request: HttpRequest, clinician_id: int) -> HttpResponse:
    if refused := _limited(request, "slots", 60):
        return refused
    clinician = get_object_or_404(_listed().prefetch_related("disciplines"), pk=clinician_id)
    types = list(_bookable_types())
    if not types:
        raise Http404
    chosen = request.GET.get("type", "")
    appointment_type = next((t for t in types if str(t.pk) == chosen), types[0])
    _funnel("slot_view")
    week = request.GET.get("week", "0")
    week_number = int(week) if week.isdigit() and int(week) < WEEKS_AHEAD else 0
    first_day = timezone.localdate() + timedelta(days=7 * week_number)
    slots = clinician_availability(
        clinician=clinician,
        appointment_type=appointment_type,
        start_date=first_day,
        end_date=first_day + timedelta(days=6),
    )
    by_day: dict[date, list[Slot]] = defaultdict(list)
    for slot in slots:
        by_day[timezone.localtime(slot.start, slot.clinic.tz).date()].append(slot)
    context = {
        "clinician": clinician,
        "types": types,
        "appointment_type": appointment_type,
        "days": sorted(by_day.items()),
        "week": week_number,
        "previous_week": week_number - 1 if week_number > 0 else None,
        "next_week": week_number + 1 if week_number + 1 < WEEKS_AHEAD else None,
        "zones": zone_notes(places=((s.clinic, s.start) for s in slots)),
    }
    return render(request, "booking/clinician.html", context)


def _slot_from(
    request: HttpRequest, clinician: Clinician
) -> tuple[AppointmentType, Clinic, datetime]:
    """The chosen time from the slot link; anything that is not one (a word for an id, an
    impossible or far-off date) is "no such time": 404, never a traceback."""
    source = request.POST if request.method == "POST" else request.GET
    type_id, clinic_id = source.get("type", ""), source.get("clinic", "")
    start = parse_aware_datetime(source.get("start", ""))
    if not (
        type_id.isascii() and type_id.isdigit() and clinic_id.isascii() and clinic_id.isdigit()
    ):
        raise Http404
    if start is None or start <= timezone.now():
        raise Http404
    appointment_type = get_object_or_404(_bookable_types(), pk=int(type_id))
    clinic = get_object_or_404(clinician.clinics.filter(is_active=True), pk=int(clinic_id))
    return appointment_type, clinic, start


@require_http_methods(["GET", "POST"])
def book(request: HttpRequest, clinician_id: int) -> HttpResponse:
    clinician = get_object_or_404(_listed(), pk=clinician_id)
    appointment_type, clinic, start = _slot_from(request, clinician)
    if request.method == "GET":
        _funnel("booking_started")
        form = PatientDetailsForm()
    else:
        if refused := _limited(request, "book", 10):
            return refused
        form = PatientDetailsForm(request.POST)
        if form.is_valid():
            pending = PendingBooking(
                clinician_id=clinician.pk,
                clinic_id=clinic.pk,
                appointment_type_id=appointment_type.pk,
                start=start,
                details=form.details(),
            )
            if settings.NEXUS_BOOKING_VERIFY_MOBILE:
                try:
                    verification_start(session=request.session, pending=pending)
                except DomainError as error:
                    form.add_error(None, error.detail)
                else:
                    return redirect("booking:verify")
            else:
                done, error_text = _make(request, pending, verified=False)
                if done:
                    return done
                form.add_error(None, error_text)
    context = {
        "clinician": clinician,
        "appointment_type": appointment_type,
        "clinic": clinic,
        "start": start,
        "local_start": in_zone(start, clinic.tz),
        "zone_label": zone_label(clinic.timezone, clinic.tz, start),
        "form": form,
    }
    return render(request, "booking/details.html", context)


def _make(
    request: HttpRequest, pending: PendingBooking, *, verified: bool
) -> tuple[HttpResponse | None, str]:
    """Book the waiting time: the redirect to its confirmation, or why it could not be."""
    clinician = _listed().filter(pk=pending.clinician_id).first()
    clinic = Clinic.objects.filter(pk=pending.clinic_id, is_active=True).first()
    appointment_type = _bookable_types().filter(pk=pending.appointment_type_id).first()
    if clinician is None or clinic is None or appointment_type is None:
        return None, TAKEN
    try:
        appointment = appointment_book_online(
            clinician=clinician,
            clinic=clinic,
            appointment_type=appointment_type,
            start=pending.start,
            details=pending.details,
            mobile_verified=verified,
        )
    except OnlineBookingFull as full:
        return None, full.detail
    except DomainError:
        return None, TAKEN
    audit_change(request=request, record=appointment, view="online_booking", created=True)
    _funnel("booking_completed")
    token = appointment_link_token(appointment=appointment)
    return redirect("booking:done", token=token), ""


TAKEN = (
    "Sorry, that time has just been taken or is no longer available. Please choose another time."
)


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """The code sent to the mobile: only when it comes back does the booking hold a time."""
    pending = verification_pending(session=request.session)
    if pending is None:
        return redirect("booking:directory")
    error = ""
    if request.method == "POST":
        if refused := _limited(request, "verify", 10):
            return refused
        try:
            checked = verification_check(
                session=request.session, code=request.POST.get("code", "")[:12]
            )
        except DomainError as failed:
            error = failed.detail
        else:
            verification_forget(session=request.session)
            done, error = _make(request, checked, verified=True)
            if done:
                return done
        if verification_pending(session=request.session) is None:
            # Used up, expired, or the time went meanwhile: choose a time again.
            messages.error(request, error)
            return redirect("booking:clinician", clinician_id=pending.clinician_id)
    context = {"pending": pending, "ending": str(pending.details.phone)[-3:], "error": error}
    return render(request, "booking/verify.html", context)


def _from_token(token: str) -> Appointment:
    appointment = appointment_from_link_token(token=token)
    if appointment is None:
        raise Http404
    return appointment


@require_http_methods(["GET"])
def done(request: HttpRequest, token: str) -> HttpResponse:
    appointment = _from_token(token)
    context = {
        "appointment": appointment,
        "local_start": in_zone(appointment.start, appointment.clinic.tz),
        "token": token,
    }
    return render(request, "booking/done.html", context)


@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, token: str) -> HttpResponse:
    appointment = _from_token(token)
    error = None
    if request.method == "POST" and appointment.can_move_to(Appointment.Status.CANCELLED):
        try:
            appointment = appointment_cancel(
                appointment=appointment, reason="Cancelled online by the patient"
            )
        except DomainError as exc:
            error = exc.detail
        else:
            audit_change(request=request, record=appointment, view="online_cancel")
    context = {
        "appointment": appointment,
        "local_start": in_zone(appointment.start, appointment.clinic.tz),
        "error": error,
    }
    return render(request, "booking/cancel.html", context)
