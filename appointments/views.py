"""The staff calendar: day and week views, booking from a free time, and an appointment's
panel (status, reschedule, cancel). Pages are whole documents; with HTMX the panels load
beside the calendar without a page change."""

from datetime import date, timedelta
from typing import Any, cast
from urllib.parse import parse_qs, urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.forms import Form
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from appointments.calendar import ROW_MINUTES, ROW_PX, PracticeSetup, calendar_page, practice_setup
from appointments.calendar_html import calendar_grid_html
from appointments.forms import (
    SCOPE_FOLLOWING,
    BookingForm,
    CancelForm,
    RescheduleForm,
    StatusForm,
)
from appointments.models import Appointment, AppointmentSeries
from appointments.recurrence import SeriesRule
from appointments.selectors import appointment_list, booking_starts
from appointments.series import (
    CLASH,
    OUTSIDE_HOURS,
    TIME_OFF,
    appointment_series_book,
    appointment_series_cancel,
    appointment_series_move_following,
    series_preview,
)
from appointments.services import (
    appointment_book,
    appointment_cancel,
    appointment_next_statuses,
    appointment_reschedule,
    appointment_transition,
    appointment_undo_status,
    appointment_undo_target,
)
from audit.models import AuditEvent
from audit.services import Target, audit_change, audit_read, audit_record
from clinicians.models import Clinic, Clinician
from clinicians.selectors import clinic_chosen
from nexus.dates import in_supported_range, parse_aware_datetime, parse_date
from nexus.errors import DomainError, OutsideWorkingHours, SeriesConflict
from nexus.http import StaffRequest
from nexus.templatetags.routes import route
from nexus.timezones import in_zone
from patients.models import Patient
from patients.selectors import patient_list

VIEWS = {"day": 1, "week": 7}
# What the booking panel's query may fill in (the panel asks again when one changes).
BOOKING_QUERY = ("clinician", "appointment_type", "date", "time", "notes")
APPOINTMENT_LABEL = Appointment._meta.label_lower
# The id of the panel's start-times part, which htmx names in HX-Target when it asks again.
STARTS_TARGET = "booking-starts"


def _clinic(
    request: StaffRequest, chosen: str | None = None, among: list[Clinic] | None = None
) -> Clinic:
    asked = request.GET.get("clinic", "") if chosen is None else chosen
    clinic = clinic_chosen(session=request.session, chosen=asked, among=among)
    if clinic is None:
        raise Http404("No clinic is open.")
    return clinic


def calendar_url(clinic: Clinic, day: date, view: str = "day", **extra: Any) -> str:
    query = {"clinic": clinic.pk, "date": day.isoformat(), "view": view, **extra}
    return f"{route('appointments:calendar')}?{urlencode(query, doseq=True)}"


@require_GET
@login_required
@permission_required("appointments.view_appointment", raise_exception=True)
def calendar(request: StaffRequest) -> HttpResponse:
    setup = practice_setup()
    clinics = setup.clinics  # the menu's choices, and the clinic shown among them
    clinic = _clinic(request, among=clinics)
    view = request.GET.get("view", "day")
    days = VIEWS.get(view, 1)
    today = timezone.localdate(timezone=clinic.tz)
    day = parse_date(request.GET.get("date", "")) or today
    if days == 7:
        day -= timedelta(days=day.weekday())  # weeks start on Monday
    chosen = [int(c) for c in request.GET.getlist("clinician") if c.isdigit()]
    if days == 7 and not chosen and "all" not in request.GET.getlist("clinician"):
        # A week of every clinician is too wide to read: start with one (the user's own).
        chosen = _default_clinician(request, setup.clinicians.get(clinic.pk, []))
    show_cancelled = request.GET.get("cancelled") == "1"
    # "Book" on a chart: the patient rides along into every free time's booking panel.
    for_patient = _patient_from(request, request.GET.get("patient", ""))
    page = calendar_page(
        user=request.user,
        clinic=clinic,
        start_day=day,
        days=days,
        clinician_ids=chosen,
        show_cancelled=show_cancelled,
        setup=setup,
    )
    grid = calendar_grid_html(
        page,
        week=view == "week",
        for_patient_id=for_patient.pk if for_patient else None,
        movable=(Appointment.Status.BOOKED, Appointment.Status.CONFIRMED),
        row_px=ROW_PX,
        row_minutes=ROW_MINUTES,
    )
    # As audit_read would list them: the calendar's rows are values, not model instances.
    shown = [p.appointment for column in page.columns for p in column.appointments]
    audit_record(
        request=request,
        action=AuditEvent.Action.READ,
        targets=[Target(APPOINTMENT_LABEL, str(a.pk), a.patient_id) for a in shown],
        detail={"view": "calendar"},
    )
    step = timedelta(days=days)
    extra: dict[str, Any] = {"clinician": chosen or "all"}
    if show_cancelled:
        extra["cancelled"] = "1"
    if for_patient:
        extra["patient"] = for_patient.pk
    context = {
        "page": page,
        "view": view,
        "day": day,
        "today_url": calendar_url(clinic, today, view, **extra),
        "previous_url": calendar_url(clinic, day - step, view, **extra),
        "next_url": calendar_url(clinic, day + step, view, **extra),
        "day_url": calendar_url(clinic, day, "day", **extra),
        "week_url": calendar_url(clinic, day, "week", **extra),
        "for_patient": for_patient,
        "clinics": clinics,
        "chosen": chosen,
        "grid": grid,
        "sheet_url": f"{route('appointments:day_sheet')}?"
        + urlencode(
            {"clinic": clinic.pk, "date": day.isoformat(), "clinician": chosen}, doseq=True
        ),
        "show_cancelled": show_cancelled,
    }
    return render(request, "appointments/calendar.html", context)


def _default_clinician(request: StaffRequest, here: list[Clinician]) -> list[int]:
    """The user's own column when they work at the clinic, else its first clinician's."""
    own = [c.pk for c in here if c.user_id == request.user.pk]
    return own or [c.pk for c in here[:1]]


def _panel(request: StaffRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """A panel beside the calendar (HTMX), or the same content as a page of its own."""
    base = "_partial.html" if request.htmx else "_panel_page.html"
    return render(request, template, {"base": base, **context})


def _done(request: StaffRequest, appointment: Appointment, message: str) -> HttpResponse:
    messages.success(request, message)
    url = _calendar_after(request, appointment)
    back = request.POST.get("next", "")  # e.g. the dashboard's quick Arrived/Completed buttons
    if back.startswith("/") and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        url = back
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _calendar_after(request: StaffRequest, appointment: Appointment) -> str:
    """Back to the calendar as the user had it (day or week, chosen clinicians), on the
    appointment's day in its clinic. The page is the one HTMX reports it was on, or the
    `back` field of a form shown as a page of its own."""
    came_from = request.headers.get("HX-Current-URL") or request.POST.get("back", "")
    parts = urlsplit(came_from)
    query = parse_qs(parts.query) if parts.path == reverse("appointments:calendar") else {}
    view = query.get("view", ["day"])[0]
    chosen = [c for c in query.get("clinician", []) if c.isdigit()]
    if chosen and str(appointment.clinician_id) not in chosen:
        chosen.append(str(appointment.clinician_id))  # keep the appointment in sight
    return calendar_url(
        appointment.clinic,
        appointment.local_start.date(),
        view if view in VIEWS else "day",
        **({"clinician": chosen} if chosen else {}),
    )


def _form_error(form: Form, error: DomainError) -> None:
    field = error.field if error.field in form.fields else None
    detail = error.detail
    if isinstance(error, OutsideWorkingHours) and "override_working_hours" in form.fields:
        # The API's wording names a parameter; staff see the tick box's own words.
        label = form.fields["override_working_hours"].label
        detail = (
            "This time is outside the clinician's working hours at this clinic or during "
            f"time off. Tick “{label}” if you are sure."
        )
    form.add_error(field, detail)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("appointments.add_appointment", raise_exception=True)
def book(request: StaffRequest) -> HttpResponse:
    """Book a patient into a free time: the slot comes from the calendar. Changing the type,
    clinician or day asks again (GET) for the start times that fit."""
    chosen_patient = None
    if request.method == "POST":
        clinic = _clinic(request, request.POST.get("clinic", ""))
        form = BookingForm(request.POST, clinic=clinic)
    else:
        setup = practice_setup()
        clinic = _clinic(request, among=setup.clinics)
        query = request.GET
        initial: dict[str, Any] = {
            "clinic": clinic.pk,
            **{name: query[name] for name in BOOKING_QUERY if query.get(name)},
        }
        if chosen_patient := _patient_from(request, query.get("patient", "")):
            initial["patient"] = chosen_patient.pk
        if start := parse_aware_datetime(query.get("start", "")):
            start = start.astimezone(clinic.tz)
            initial |= {"date": start.date(), "time": start.time().replace(second=0)}
        # Asked again for its start times alone (htmx), the panel reads the form's values
        # but draws none of its fields, and takes its clinician from `setup`: the field's
        # choices are not narrowed to the clinic, a query built for nothing (issue 16).
        starts_only = request.htmx.target == STARTS_TARGET
        form = BookingForm(initial=initial, clinic=None if starts_only else clinic)
    occurrences: list[dict[str, Any]] = []
    if request.method == "POST" and form.is_valid() and form.cleaned_data["repeat_weeks"]:
        series, occurrences = _book_series(request, form)
        if series is not None:
            return _series_done(request, series)
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            appointment = appointment_book(
                patient=data["patient"],
                clinician=data["clinician"],
                clinic=data["clinic"],
                appointment_type=data["appointment_type"],
                start=form.start_in(data["clinic"]),
                notes=data["notes"],
                created_by=request.user,
                override_working_hours=data["override_working_hours"],
            )
        except DomainError as error:
            _form_error(form, error)
        else:
            audit_change(request=request, record=appointment, view="calendar_book", created=True)
            when = timezone.localtime(appointment.start, appointment.clinic.tz)
            return _done(
                request,
                appointment,
                f"Booked {appointment.patient} with {appointment.clinician} "
                f"on {when:%a %-d %b at %-I:%M %p}.",
            )
    # Keep the chosen patient on show when the form comes back with an error.
    patient = form.cleaned_data.get("patient") if form.is_bound else chosen_patient
    context = {
        "form": form,
        "patient": patient,
        "occurrences": occurrences,
        "blocked": sum(1 for o in occurrences if o["problem"]),
        **_starts_that_fit(form, clinic, setup=None if form.is_bound else setup),
    }
    if request.method == "GET" and request.htmx.target == STARTS_TARGET:
        # The panel asking again for its start times swaps in that part alone
        # (hx-select): rendering the form's select lists for it cost most of the request.
        return render(request, "appointments/_booking_starts.html", context)
    return _panel(request, "appointments/book.html", context)


# How the booking panel names what stands in a repeat's way (appointments/series.py).
SERIES_PROBLEMS = {
    CLASH: "already booked",
    OUTSIDE_HOURS: "outside working hours",
    TIME_OFF: "time off",
}


def _book_series(
    request: StaffRequest, form: BookingForm
) -> tuple[AppointmentSeries | None, list[dict[str, Any]]]:
    """Book the repeat the form describes; when some times cannot be booked, nothing is
    booked and the panel lists every time with what is wrong with it, so reception can
    tick "skip" or choose another time."""
    data = form.cleaned_data
    clinic = data["clinic"]
    where = {
        "clinician": data["clinician"],
        "clinic": clinic,
        "appointment_type": data["appointment_type"],
        "start": form.start_in(clinic),
        "override_working_hours": data["override_working_hours"],
    }
    try:
        rule = SeriesRule(every_weeks=data["repeat_weeks"], count=data["repeat_count"])
        series = appointment_series_book(
            patient=data["patient"],
            rule=rule,
            skip_conflicts=data["skip_conflicts"],
            notes=data["notes"],
            created_by=request.user,
            **where,
        )
    except SeriesConflict as error:
        form.add_error(None, error.detail)
        shown = series_preview(rule=rule, **where)
        return None, [
            {"when": in_zone(o.start, clinic.tz), "problem": SERIES_PROBLEMS.get(o.conflict or "")}
            for o in shown
        ]
    except DomainError as error:
        _form_error(form, error)
        return None, []
    return series, []


def _series_done(request: StaffRequest, series: AppointmentSeries) -> HttpResponse:
    audit_change(request=request, record=series, view="calendar_book_series", created=True)
    booked = list(series.appointments.select_related("clinic", "clinician", "patient"))
    first = booked[0]
    skipped = f" {len(series.skipped)} skipped." if series.skipped else ""
    return _done(
        request,
        first,
        f"Booked {len(booked)} appointments for {first.patient} with {first.clinician}, "
        f"from {first.local_start:%a %-d %b at %-I:%M %p}.{skipped}",
    )


def _starts_that_fit(
    form: BookingForm, clinic: Clinic, *, setup: PracticeSetup | None = None
) -> dict[str, Any]:
    """The start times the panel offers: only those where the chosen type's whole length
    is free (issue 10), and whether the time in the form is one of them. An unbound form
    (the panel asking again) finds its clinician and type in `setup` rather than in the
    database: the same active clinicians of the clinic and active types its fields allow."""
    if setup is not None:
        clinician = setup.clinician_at(clinic, form["clinician"].value())
        kind = setup.appointment_type(form["appointment_type"].value())
    else:
        clinician, kind = form.choice("clinician"), form.choice("appointment_type")
    day, at = form.choice("date"), form.choice("time")
    if clinician is None or kind is None or day is None or not in_supported_range(day):
        return {"starts": None}
    starts = booking_starts(clinician=clinician, clinic=clinic, appointment_type=kind, day=day)
    return {
        "starts": starts,
        "kind": kind,
        "fits": at is None or any(s.time() == at for s in starts),
    }


def _patient_from(request: StaffRequest, pk: str) -> Patient | None:
    """A patient named in the query (booking from the chart), if this user may see them."""
    if not pk.isdigit():
        return None
    patient = patient_list(user=request.user).filter(pk=pk, archived=False).first()
    if patient is not None:
        audit_read(request=request, records=[patient], view="calendar_book_for")
    return patient


def _appointment(request: StaffRequest, pk: int) -> Appointment:
    return get_object_or_404(appointment_list(user=request.user), pk=pk)


@require_GET
@login_required
@permission_required("appointments.view_appointment", raise_exception=True)
def appointment_panel(request: StaffRequest, pk: int) -> HttpResponse:
    appointment = _appointment(request, pk)
    audit_read(request=request, records=[appointment], view="calendar_panel")
    return _panel(request, "appointments/panel.html", _panel_context(appointment))


def _series_context(appointment: Appointment) -> dict[str, Any]:
    """The repeat booking the appointment belongs to, and how many later ones of it are
    still booked (the "this and following" choices appear only when there are some)."""
    if appointment.series_id is None:
        return {"series": None, "later": 0}
    series = AppointmentSeries.objects.select_related("clinic").get(pk=appointment.series_id)
    later = series.appointments.filter(
        start__gt=appointment.start,
        status__in=[Appointment.Status.BOOKED, Appointment.Status.CONFIRMED],
    ).count()
    return {"series": series, "later": later}


def _panel_context(appointment: Appointment, **forms: Form) -> dict[str, Any]:
    local = timezone.localtime(appointment.start, appointment.clinic.tz)
    return {
        **_series_context(appointment),
        "appointment": appointment,
        "next_statuses": [
            (status, Appointment.Status(status).label)
            for status in appointment_next_statuses(appointment=appointment)
            if status != Appointment.Status.CANCELLED
        ],
        "undo_to": (undo_to := appointment_undo_target(appointment=appointment)),
        "undo_to_label": Appointment.Status(undo_to).label if undo_to else "",
        "can_cancel": appointment.can_move_to(Appointment.Status.CANCELLED),
        "can_move": appointment.status in (Appointment.Status.BOOKED, Appointment.Status.CONFIRMED),
        "cancel_form": forms.get("cancel_form") or CancelForm(),
        "reschedule_form": forms.get("reschedule_form")
        or RescheduleForm(
            initial={
                "date": local.date(),
                "time": local.time(),
                "clinician": appointment.clinician_id,
            }
        ),
        "error": None,
    }


@require_POST
@login_required
@permission_required("appointments.change_appointment", raise_exception=True)
def appointment_status(request: StaffRequest, pk: int) -> HttpResponse:
    appointment = _appointment(request, pk)
    form = StatusForm(request.POST)
    context = _panel_context(appointment)
    if form.is_valid():
        try:
            updated = appointment_transition(appointment=appointment, to=form.cleaned_data["to"])
        except DomainError as error:
            context["error"] = error.detail
        else:
            audit_change(request=request, record=updated, view="calendar_status")
            return _done(
                request,
                updated,
                f"{updated.patient} is now {updated.get_status_display().lower()}.",
            )
    return _panel(request, "appointments/panel.html", context)


@require_POST
@login_required
@permission_required("appointments.change_appointment", raise_exception=True)
def appointment_undo(request: StaffRequest, pk: int) -> HttpResponse:
    appointment = _appointment(request, pk)
    undone = appointment.get_status_display().lower()
    try:
        updated = appointment_undo_status(appointment=appointment)
    except DomainError as error:
        context = _panel_context(appointment)
        context["error"] = error.detail
        return _panel(request, "appointments/panel.html", context)
    # What was undone is part of the record: an undo must not look like a fresh change.
    audit_change(
        request=request,
        record=updated,
        view="calendar_undo",
        detail={"undone": appointment.status, "to": updated.status},
    )
    return _done(request, updated, f"Undid {updated.patient}'s {undone}.")


def _following(form: Form, appointment: Appointment) -> bool:
    """The form asks to change this appointment and the later ones of its series."""
    return appointment.series_id is not None and form.cleaned_data["scope"] == SCOPE_FOLLOWING


@require_POST
@login_required
@permission_required("appointments.change_appointment", raise_exception=True)
def appointment_cancel_view(request: StaffRequest, pk: int) -> HttpResponse:
    appointment = _appointment(request, pk)
    form = CancelForm(request.POST)
    if form.is_valid() and _following(form, appointment):
        try:
            series = appointment_series_cancel(
                series=cast(AppointmentSeries, appointment.series),
                from_start=appointment.start,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as error:
            _form_error(form, error)
        else:
            audit_change(
                request=request,
                record=series,
                view="calendar_cancel_following",
                detail={"from_appointment": appointment.pk},
            )
            return _done(
                request,
                appointment,
                f"Cancelled {appointment.patient}'s appointments from this one on.",
            )
    elif form.is_valid():
        try:
            updated = appointment_cancel(
                appointment=appointment, reason=form.cleaned_data["reason"]
            )
        except DomainError as error:
            _form_error(form, error)
        else:
            audit_change(request=request, record=updated, view="calendar_cancel")
            return _done(request, updated, f"Cancelled {updated.patient}'s appointment.")
    return _panel(request, "appointments/panel.html", _panel_context(appointment, cancel_form=form))


@require_POST
@login_required
@permission_required("appointments.change_appointment", raise_exception=True)
def appointment_move(request: StaffRequest, pk: int) -> HttpResponse:
    appointment = _appointment(request, pk)
    form = RescheduleForm(request.POST)
    if form.is_valid() and _following(form, appointment):
        try:
            moved = appointment_series_move_following(
                appointment=appointment,
                start=form.start_in(appointment.clinic),
                clinician=form.cleaned_data["clinician"],
                override_working_hours=form.cleaned_data["override_working_hours"],
                by=request.user,
            )
        except DomainError as error:
            _form_error(form, error)
        else:
            audit_change(
                request=request,
                record=moved[0].series or appointment,
                view="calendar_reschedule_following",
                detail={"from_appointment": appointment.pk, "moved": len(moved)},
            )
            return _done(
                request, moved[0], f"Moved {len(moved)} of {appointment.patient}'s appointments."
            )
    elif form.is_valid():
        try:
            updated = appointment_reschedule(
                appointment=appointment,
                start=form.start_in(appointment.clinic),
                clinician=form.cleaned_data["clinician"],
                override_working_hours=form.cleaned_data["override_working_hours"],
                by=request.user,
            )
        except DomainError as error:
            _form_error(form, error)
        else:
            audit_change(request=request, record=updated, view="calendar_reschedule")
            return _done(request, updated, f"Moved {updated.patient}'s appointment.")
    return _panel(
        request, "appointments/panel.html", _panel_context(appointment, reschedule_form=form)
    )
