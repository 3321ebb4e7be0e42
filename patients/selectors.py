"""Reads of patient records, always through here so access rules live in one place."""

from dataclasses import dataclass
from datetime import date, datetime

import phonenumbers
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from accounts.models import User
from appointments.models import Appointment
from appointments.selectors import appointment_list
from patients.models import Patient


def patient_list(*, user: User, include_archived: bool = True) -> QuerySet[Patient]:
    qs = Patient.objects.all()
    return qs if include_archived else qs.filter(archived=False)


def _as_e164_prefix(digits: str) -> str:
    """What a typed phone fragment looks like at the start of a stored E.164 number."""
    if digits.startswith("61"):
        return "+" + digits
    if digits.startswith("0"):
        return "+61" + digits[1:]
    return "+61" + digits


def _date_of_birth(term: str) -> date | None:
    """A typed date of birth: 10/12/1985, 10-12-1985, 10.12.1985 (Australian order) or ISO."""
    cleaned = term.strip().replace("-", "/").replace(".", "/")
    for pattern in ("%d/%m/%Y", "%Y/%m/%d"):
        try:
            return datetime.strptime(cleaned, pattern).date()  # noqa: DTZ007 - a date only
        except ValueError:
            continue
    return None


def patient_search(queryset: QuerySet[Patient], term: str) -> QuerySet[Patient]:
    """Match a name, phone, email or Medicare number as reception types it.

    Every branch is a prefix match on an indexed expression (see the patients search-index
    migration), and results are ordered by LOWER(name) so PostgreSQL cannot be tempted to
    walk a name index end to end looking for matches (docs/performance.md).
    """
    term = term.strip()
    if not term:
        return queryset
    compact = "".join(ch for ch in term if ch not in " -()")
    born = _date_of_birth(term)
    if born:
        matched = queryset.filter(date_of_birth=born)
    elif "@" in term:
        matched = queryset.filter(email__istartswith=term)
    elif compact.lstrip("+").isdigit():
        digits = compact.lstrip("+")
        condition = Q(phone__startswith=_as_e164_prefix(digits)) | Q(
            medicare_number__startswith=digits
        )
        if compact.startswith("+"):
            try:
                parsed = phonenumbers.parse(compact, None)
                condition |= Q(phone=phonenumbers.format_number(parsed, 0))
            except phonenumbers.NumberParseException:
                pass
        matched = queryset.filter(condition)
    else:
        matched = queryset
        for word in term.split()[:4]:
            matched = matched.filter(
                Q(family_name__istartswith=word)
                | Q(given_name__istartswith=word)
                | Q(preferred_name__istartswith=word)
            )
    return matched.order_by(Lower("family_name"), Lower("given_name"), "id")


@dataclass(frozen=True)
class PatientAppointments:
    """The chart's appointment lists: coming up (cancelled ones apart) and the latest past."""

    upcoming: list[Appointment]
    cancelled: list[Appointment]
    past: list[Appointment]


# What the chart's appointment lists show, and nothing else: each column fetched is a column
# Django compiles and converts, and the chart is one of the most opened pages.
_CHART_APPOINTMENT = (
    "start",
    "status",
    "series",
    "clinic__timezone",
    "clinician__given_name",
    "clinician__family_name",
    "appointment_type__name",
    "appointment_type__colour",
)


def patient_appointments(
    *, user: User, patient_id: int, now: datetime, limit: int
) -> PatientAppointments:
    """The next `limit` booked and the next `limit` cancelled visits, and the last `limit`
    past ones whatever their status. Three small queries on the (patient, start) index:
    one query numbering rows with a window function costs Django more to compile."""
    appointments = (
        appointment_list(user=user)
        .filter(patient_id=patient_id)
        .select_related(None)
        .select_related("clinician", "clinic", "appointment_type")
        .only(*_CHART_APPOINTMENT)
    )
    coming = appointments.filter(start__gte=now).order_by("start", "id")
    cancelled = Q(status=Appointment.Status.CANCELLED)
    return PatientAppointments(
        upcoming=list(coming.exclude(cancelled)[:limit]),
        cancelled=list(coming.filter(cancelled)[:limit]),
        past=list(appointments.filter(start__lt=now).order_by("-start", "-id")[:limit]),
    )
