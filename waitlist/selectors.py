"""Reads of the waitlist, for the API and the reception page."""

from django.db.models import Prefetch, QuerySet

from accounts.models import User
from waitlist.models import WaitlistEntry, WaitlistOffer


def waitlist_entry_list(*, user: User) -> QuerySet[WaitlistEntry]:
    """Every entry staff may see (the waitlist is the practice's, like the calendar), with
    its clinics and its offers (newest first) loaded in two queries whatever the count."""
    offers = WaitlistOffer.objects.select_related("clinic", "clinician").order_by(
        "-created_at", "-id"
    )
    return WaitlistEntry.objects.select_related(
        "patient", "clinician", "discipline", "appointment_type"
    ).prefetch_related("clinics", Prefetch("offers", queryset=offers))


def waitlist_offers_in_flight(*, user: User) -> QuerySet[WaitlistOffer]:
    """Offers waiting for a reply, soonest to lapse first."""
    return (
        WaitlistOffer.objects.filter(status=WaitlistOffer.Status.PENDING)
        .select_related("entry__patient", "clinic", "clinician")
        .order_by("expires_at", "id")
    )


def waitlist_answers(*, user: User, limit: int = 20) -> list[WaitlistOffer]:
    """The latest answered offers (booked, taken, declined, lapsed), newest first."""
    return list(
        WaitlistOffer.objects.exclude(status=WaitlistOffer.Status.PENDING)
        .select_related("entry__patient", "clinic", "clinician", "appointment")
        .order_by("-answered_at", "-id")[:limit]
    )
