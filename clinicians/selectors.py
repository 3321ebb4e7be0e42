"""Reads about clinics for staff pages."""

from django.contrib.sessions.backends.base import SessionBase

from clinicians.models import Clinic

# The clinic the staff member last chose, so the calendar and the day page open on it.
CLINIC_SESSION_KEY = "nexus_clinic_id"


def clinic_remembered(*, session: SessionBase, chosen: str = "") -> Clinic | None:
    """The clinic a staff page is about: the one asked for (remembered for the session),
    else the one chosen earlier in the session, else the first active clinic."""
    clinics = Clinic.objects.filter(is_active=True).order_by("name")
    clinic = clinics.filter(pk=chosen).first() if chosen.isdigit() else None
    remembered = session.get(CLINIC_SESSION_KEY)
    if clinic is None and isinstance(remembered, int):
        clinic = clinics.filter(pk=remembered).first()
    clinic = clinic or clinics.first()
    if clinic is not None and remembered != clinic.pk:
        session[CLINIC_SESSION_KEY] = clinic.pk
    return clinic
