"""Reception's review of online bookings: each one is accepted as a new patient, merged
into the existing patient it matches, or declined. Every page view and decision is audited."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from appointments.online import (
    online_booking_accept,
    online_booking_decline,
    online_booking_matches,
    online_booking_merge,
    online_bookings_pending,
)
from audit.services import audit_change, audit_read
from nexus.errors import DomainError
from nexus.http import StaffRequest

SHOWN = 50


@require_GET
@login_required
@permission_required(
    ["appointments.change_appointment", "patients.change_patient"], raise_exception=True
)
def review(request: StaffRequest) -> HttpResponse:
    bookings = list(online_bookings_pending()[:SHOWN])
    matches = online_booking_matches(bookings=bookings)
    shown = [b.appointment.patient for b in bookings] + [
        p for found in matches.values() for p in found
    ]
    unique = {p.pk: p for p in shown}.values()
    audit_read(request=request, records=unique, view="online_booking_review")
    rows = [(b, matches[b.pk]) for b in bookings]
    return render(request, "booking/review.html", {"rows": rows})


@require_POST
@login_required
@permission_required(
    ["appointments.change_appointment", "patients.change_patient"], raise_exception=True
)
def decide(request: StaffRequest, pk: int) -> HttpResponse:
    booking = get_object_or_404(online_bookings_pending(), pk=pk)
    user = request.user
    keep_message = request.POST.get("keep_message") == "on"
    decision = request.POST.get("decision", "")
    made = booking.appointment.patient
    try:
        if decision == "accept":
            online_booking_accept(booking=booking, reviewed_by=user, keep_message=keep_message)
            changed = [made]
        elif decision == "merge":
            chosen = request.POST.get("patient", "")
            candidates = online_booking_matches(bookings=[booking])[booking.pk]
            patient = next((p for p in candidates if str(p.pk) == chosen), None)
            if patient is None:
                messages.error(request, "Choose which existing patient this booking is for.")
                return redirect("online_bookings:review")
            online_booking_merge(
                booking=booking, patient=patient, reviewed_by=user, keep_message=keep_message
            )
            changed = [made, patient]
        elif decision == "decline":
            online_booking_decline(booking=booking, reviewed_by=user)
            changed = [made]
        else:
            messages.error(request, "Choose accept, merge or decline.")
            return redirect("online_bookings:review")
    except DomainError as error:
        messages.error(request, error.detail)
        return redirect("online_bookings:review")
    for record in changed:
        audit_change(
            request=request,
            record=record,
            view="online_booking_review",
            detail={"decision": decision, "booking": booking.pk},
        )
    messages.success(request, "Online booking reviewed.")
    return redirect("online_bookings:review")
