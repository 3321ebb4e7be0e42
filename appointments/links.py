"""Signed links to one appointment, for people without an account: the online booking's
confirmation and cancel pages today, SMS reminders next. A link carries only the signed
appointment id (no patient data) and expires."""

from django.core import signing

from appointments.models import Appointment

_SALT = "booking.appointment"
# A cancel link works for four months: longer than anyone books ahead online.
LINK_MAX_AGE_SECONDS = 120 * 24 * 60 * 60


def appointment_link_token(*, appointment: Appointment) -> str:
    return signing.dumps(appointment.pk, salt=_SALT)


def appointment_from_link_token(*, token: str) -> Appointment | None:
    """The appointment a link points at, or None for a forged, expired or stale link."""
    try:
        pk = signing.loads(token, salt=_SALT, max_age=LINK_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(pk, int):
        return None
    return (
        Appointment.objects.select_related("clinician", "clinic", "appointment_type")
        .filter(pk=pk)
        .first()
    )
