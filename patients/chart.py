"""The chart's body (everything between the page's header and footer), rendered once per
patient and kept in the cache (issue 16).

Rendering the chart (the record, its next and last visits, notes and documents, through the
template engine) cost about two thirds of the page's CPU, and a chart is opened several times
a day: at the desk, in the room, at billing. What it shows changes only when something is
written, so each body is tagged with generations read before its queries: the practice's
(clinics, clinicians, types, staff names, referrers, coordinators, bulk imports) and the
patient's (the record, its appointments, repeat bookings, notes and documents). Every ORM
write to those replaces a generation (`watch_for_changes`), and so do the bulk paths that
send no signals (the FileMaker import, seed_demo), so the next request renders again.

What is not the same for everyone is part of the key or the entry:
- who may see what: the permissions the body asks about are in the key, and the body of a
  patient with unsigned notes (each author sees their own) is kept for its user only. A
  hit does not ask patient_list(user=...) again: it lets anyone with view_patient see
  every patient. Should it ever narrow by user, the key must name what narrows it (a
  test fails first: test_chart_cache.py);
- the moment: "upcoming" and "past" split at now, so an entry lapses when its first
  upcoming (or cancelled) visit starts, the first moment the split could move;
- the CSRF token, left as a mark and put in on every request;
- the time zone and language the page is rendered in.

Every view is still audited, on a hit too, with the records the body shows (`shown`).
Entries live `CHART_SECONDS` at most, which bounds what a write that sends no signal and
calls nothing (raw SQL) could leave stale. Patient data in these values is held like the
sessions beside it: in the practice's own Redis, never in a key.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone, translation

from accounts.models import User
from audit.services import Target

CHART_SECONDS = 10 * 60
NEVER = float("inf")
# Where the request's CSRF token goes in a cached body. NUL never comes out of `escape` on a
# database value (PostgreSQL text cannot hold it), so the mark cannot clash with content.
CSRF_MARK = "\x00csrf\x00"
# Raised when what a body holds or how it is keyed changes, so a deploy never serves the
# previous release's markup.
_VERSION = 1
_GENERATION = "chart:generation"

# Every permission the body asks about (its templates' `perms.…`, and the selectors' checks:
# note bodies, the documents panel and its upload form): each is part of the cache key.
CHART_PERMISSIONS = (
    "appointments.add_appointment",
    "audit.view_auditevent",
    "billing.view_invoice",
    "documents.add_document",
    "documents.view_document",
    "integrations.view_message",
    "notes.add_clinicalnote",
    "notes.view_note_body",
    "patients.change_patient",
)


@dataclass(frozen=True)
class ChartBody:
    """A rendered body and what serving it needs."""

    title: str  # the page title, escaped
    html: str  # escaped; CSRF_MARK where the request's token goes
    shown: tuple[Target, ...]  # what the audit event lists: the record, notes, documents
    lapses: float  # epoch seconds: when the first upcoming visit starts (NEVER: none)
    # None: anyone with the same permissions. A patient with unsigned notes shows each
    # author their own drafts and nobody else's, so that body is kept for its user only.
    for_user: int | None

    def serves(self, user_id: int) -> bool:
        return self.for_user is None or self.for_user == user_id


def generation_key(patient_id: int | None) -> str:
    return _GENERATION if patient_id is None else f"{_GENERATION}:{patient_id}"


def chart_changed(*, patient_id: int | None = None) -> None:
    """This patient's chart (everyone's, when None) may show something else now: retire
    the cached bodies. Once now, for a reader in this same transaction, and again after
    the commit, since a reader between the two can cache what it saw before the change."""
    key = generation_key(patient_id)
    # A patient's generation may lapse: a missing one is created anew, which no entry has.
    timeout = None if patient_id is None else 2 * CHART_SECONDS

    def replace() -> None:
        cache.set(key, secrets.token_hex(8), timeout=timeout)

    replace()
    transaction.on_commit(replace)


def cached_chart_body(
    *, user: User, patient_id: int, compute: Callable[[], ChartBody]
) -> ChartBody:
    """The patient's body as this user may see it: from the cache while the generations are
    unchanged and it has not lapsed, else `compute()`'d and kept. One round trip on a hit."""
    allowed = "".join("1" if user.has_perm(name) else "0" for name in CHART_PERMISSIONS)
    zone = timezone.get_current_timezone_name()
    key = f"chart:{_VERSION}:{patient_id}:{allowed}:{zone}:{translation.get_language()}"
    keys = [generation_key(None), generation_key(patient_id)]
    values = cache.get_many([*keys, key])
    # Read before `compute` queries anything, so a change committed meanwhile outdates it.
    tag = tuple(
        _token(values.get(k), k, None if i == 0 else 2 * CHART_SECONDS) for i, k in enumerate(keys)
    )
    entry: tuple[tuple[str, ...], ChartBody] | None = values.get(key)
    if entry is not None:
        entry_tag, body = entry
        fresh = timezone.now().timestamp() < body.lapses
        if entry_tag == tag and fresh and body.serves(user.pk):
            return body
    body = compute()
    cache.set(key, (tag, body), timeout=CHART_SECONDS)
    return body


def _token(found: str | None, key: str, timeout: int | None) -> str:
    """The generation read, or one created now if there is none (never changed, lapsed or
    emptied). `add` rather than `set`: a change replacing it meanwhile must win."""
    if found is not None:
        return found
    token = secrets.token_hex(8)
    if not cache.add(key, token, timeout=timeout):
        token = cache.get(key) or ""  # "" matches nothing cached under a token
    return token


def _patient_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    chart_changed(patient_id=instance.pk)


def _part_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    chart_changed(patient_id=instance.patient_id)


def _part_may_move(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    """An appointment, note or document given to another patient (a merge, the admin)
    leaves the first patient's chart too: retire it, read from the row before the save.
    A save naming its fields without the patient cannot move it and costs nothing."""
    if instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not {"patient", "patient_id"} & set(update_fields):
        return
    before = sender._default_manager.filter(pk=instance.pk).values_list("patient_id", flat=True)
    for patient_id in before:
        if patient_id != instance.patient_id:
            chart_changed(patient_id=patient_id)


def _everyone_changed(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    # Signing in saves the user's last_login, which no chart shows.
    if sender is User and update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    chart_changed()


def watch_for_changes() -> None:
    """Every ORM write to what a chart shows retires the cached bodies it is in. Receivers,
    as for the calendar (appointments.availability): these models are written from many
    places (services, the admin, the API, factories). Queryset `update()` and bulk inserts
    send no signals: the places that use them on these models call chart_changed()."""
    from appointments.models import Appointment, AppointmentSeries, AppointmentType
    from clinicians.models import Clinic, Clinician
    from documents.models import Document
    from notes.models import ClinicalNote
    from patients.models import Coordinator, Patient, Referrer

    post_save.connect(_patient_changed, sender=Patient, dispatch_uid="chart.patient")
    post_delete.connect(_patient_changed, sender=Patient, dispatch_uid="chart-patient")
    for part in (Appointment, AppointmentSeries, ClinicalNote, Document):
        pre_save.connect(_part_may_move, sender=part, dispatch_uid=f"chart~{part}")
        post_save.connect(_part_changed, sender=part, dispatch_uid=f"chart.{part}")
        post_delete.connect(_part_changed, sender=part, dispatch_uid=f"chart-{part}")
    # Names every chart may print: a clinic, clinician, type, author, uploader, referrer.
    for shared in (Clinic, Clinician, AppointmentType, User, Referrer, Coordinator):
        post_save.connect(_everyone_changed, sender=shared, dispatch_uid=f"chart.{shared}")
        post_delete.connect(_everyone_changed, sender=shared, dispatch_uid=f"chart-{shared}")
