"""Reads about clinics and clinicians for staff pages."""

from collections.abc import Sequence

from django.contrib.sessions.backends.base import SessionBase
from django.db.models import Q, QuerySet

from accounts.models import User
from clinicians.models import Clinic, Clinician

# The clinic the staff member last chose, so the calendar and the day page open on it.
CLINIC_SESSION_KEY = "nexus_clinic_id"


def clinics_open() -> QuerySet[Clinic]:
    """The active clinics, by name: the choices of every "which clinic" menu."""
    return Clinic.objects.filter(is_active=True).order_by("name")


def clinic_chosen(
    *, session: SessionBase, chosen: str = "", among: Sequence[Clinic] | None = None
) -> Clinic | None:
    """The clinic a staff page (dashboard, calendar, day sheet) is about: the one asked for
    (remembered for the session), else the one chosen earlier in the session, else the
    first active clinic. None when no clinic is open. A page that lists the open clinics
    anyway passes them as `among` (`list(clinics_open())`) and saves the queries."""
    # Ids beyond a 32-bit key are nobody (and would overflow the database's integer).
    asked = chosen.isdecimal() and len(chosen) < 10
    remembered = session.get(CLINIC_SESSION_KEY)
    if among is not None:
        by_pk = {c.pk: c for c in among}
        clinic = by_pk.get(int(chosen)) if asked else None
        if clinic is None and isinstance(remembered, int):
            clinic = by_pk.get(remembered)
        clinic = clinic or next(iter(among), None)
    else:
        clinics = clinics_open()
        clinic = clinics.filter(pk=chosen).first() if asked else None
        if clinic is None and isinstance(remembered, int):
            clinic = clinics.filter(pk=remembered).first()
        clinic = clinic or clinics.first()
    if clinic is not None and remembered != clinic.pk:
        session[CLINIC_SESSION_KEY] = clinic.pk
    return clinic


def clinician_of(*, user: User) -> Clinician | None:
    """The clinician record of a signed-in user, if they are one."""
    return Clinician.objects.filter(user=user).first()


# Words of a name search that count; more are ignored (nobody types four names, and each
# word is another join-free filter on every row).
SEARCH_WORDS = 3


def clinician_search(clinicians: QuerySet[Clinician], term: str) -> QuerySet[Clinician]:
    """Clinicians whose given or family name starts with every word typed, as patient
    search matches names: "pri sha" finds Priya Sharma, "sha" finds Sharma. The staff API
    and the public booking directory both search with this."""
    for word in term.split()[:SEARCH_WORDS]:
        clinicians = clinicians.filter(
            Q(given_name__istartswith=word) | Q(family_name__istartswith=word)
        )
    return clinicians
