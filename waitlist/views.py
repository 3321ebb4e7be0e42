"""Reception's waitlist beside the calendar: who waits for what, the offers in flight and
their answers, an add form, and "book by hand" into the booking panel. Every patient row
shown is audited; every change goes through waitlist/services.py."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from audit.services import audit_change, audit_read
from nexus.errors import DomainError
from nexus.http import StaffRequest
from nexus.timezones import ZonedDateTime, in_zone
from waitlist.forms import WaitlistEntryForm, WaitlistSettingsForm
from waitlist.models import WaitlistEntry, WaitlistOffer
from waitlist.selectors import waitlist_answers, waitlist_entry_list, waitlist_offers_in_flight
from waitlist.services import (
    waitlist_entry_add,
    waitlist_entry_remove,
    waitlist_settings,
    waitlist_settings_update,
)

SHOWN = 100
VIEW = ["waitlist.view_waitlistentry"]


@dataclass(frozen=True)
class Row:
    entry: WaitlistEntry
    waiting_since: ZonedDateTime
    book_url: str


@dataclass(frozen=True)
class OfferRow:
    offer: WaitlistOffer
    start: ZonedDateTime
    expires_at: ZonedDateTime
    answered_at: ZonedDateTime | None
    book_url: str


def _book_url(**query: Any) -> str:
    """The calendar's booking panel, prefilled."""
    return f"{reverse('appointments:book')}?{urlencode({k: v for k, v in query.items() if v})}"


def _entry_row(entry: WaitlistEntry) -> Row:
    clinics = list(entry.clinics.all())
    # Shown in the zone of the entry's first clinic: where the patient waits to be seen.
    tz = clinics[0].tz if clinics else timezone.get_default_timezone()
    return Row(
        entry=entry,
        waiting_since=in_zone(entry.created_at, tz),
        book_url=_book_url(
            clinic=clinics[0].pk if clinics else "",
            clinician=entry.clinician_id or "",
            appointment_type=entry.appointment_type_id,
            patient=entry.patient_id,
        ),
    )


def _offer_row(offer: WaitlistOffer) -> OfferRow:
    tz = offer.clinic.tz
    return OfferRow(
        offer=offer,
        start=in_zone(offer.start, tz),
        expires_at=in_zone(offer.expires_at, tz),
        answered_at=in_zone(offer.answered_at, tz) if offer.answered_at else None,
        book_url=_book_url(
            clinic=offer.clinic_id,
            clinician=offer.clinician_id,
            appointment_type=offer.entry.appointment_type_id,
            patient=offer.entry.patient_id,
            start=offer.start.isoformat(),
        ),
    )


def _board_context(request: StaffRequest) -> dict[str, Any]:
    entries = list(
        waitlist_entry_list(user=request.user).filter(status__in=WaitlistEntry.WAITING)[:SHOWN]
    )
    in_flight = list(waitlist_offers_in_flight(user=request.user)[:SHOWN])
    answers = waitlist_answers(user=request.user)
    shown = [e.patient for e in entries] + [o.entry.patient for o in in_flight + answers]
    audit_read(request=request, records={p.pk: p for p in shown}.values(), view="waitlist")
    return {
        "rows": [_entry_row(e) for e in entries],
        "in_flight": [_offer_row(o) for o in in_flight],
        "answers": [_offer_row(o) for o in answers],
    }


def _page(request: StaffRequest, form: WaitlistEntryForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "settings_form": WaitlistSettingsForm(instance=waitlist_settings()),
        "patient": form.cleaned_data.get("patient") if form.is_bound and form.is_valid() else None,
        **_board_context(request),
    }
    return render(request, "waitlist/index.html", context, status=status)


@require_GET
@login_required
@permission_required(VIEW, raise_exception=True)
def index(request: StaffRequest) -> HttpResponse:
    return _page(request, WaitlistEntryForm())


@require_GET
@login_required
@permission_required(VIEW, raise_exception=True)
def board(request: StaffRequest) -> HttpResponse:
    """The lists alone, refreshed in place (HTMX) while offers are answered."""
    return render(request, "waitlist/_board.html", _board_context(request))


@require_POST
@login_required
@permission_required(["waitlist.add_waitlistentry"], raise_exception=True)
def add(request: StaffRequest) -> HttpResponse:
    form = WaitlistEntryForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            entry = waitlist_entry_add(
                patient=data["patient"],
                clinician=data["clinician"],
                discipline=data["discipline"],
                clinics=data["clinics"],
                appointment_type=data["appointment_type"],
                days=data["days"],
                earliest=data["earliest"],
                latest=data["latest"],
                urgency=data["urgency"],
                expires=data["expires"],
                notes=data["notes"],
                created_by=request.user,
            )
        except DomainError as error:
            form.add_error(
                error.field if error.field in form.fields else None,
                error.detail,
            )
        else:
            audit_change(request=request, record=entry, view="waitlist", created=True)
            patient = entry.patient
            messages.success(
                request, f"{patient.given_name} {patient.family_name} is on the waitlist."
            )
            return redirect("waitlist:index")
    return _page(request, form, status=400)


@require_POST
@login_required
@permission_required(["waitlist.change_waitlistentry"], raise_exception=True)
def remove(request: StaffRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(waitlist_entry_list(user=request.user), pk=pk)
    try:
        waitlist_entry_remove(entry=entry)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        audit_change(request=request, record=entry, view="waitlist", detail={"removed": True})
        messages.success(request, "Taken off the waitlist.")
    return redirect("waitlist:index")


@require_POST
@login_required
@permission_required(["waitlist.change_waitlistsettings"], raise_exception=True)
def settings_save(request: StaffRequest) -> HttpResponse:
    form = WaitlistSettingsForm(request.POST, instance=waitlist_settings())
    if form.is_valid():
        try:
            waitlist_settings_update(**form.cleaned_data)
        except DomainError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, "Waitlist settings saved.")
    else:
        messages.error(request, "Check the waitlist settings: " + form.errors.as_text())
    return redirect("waitlist:index")
