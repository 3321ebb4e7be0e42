"""Public online booking: find a clinician, choose a time, give your details, done.

No sign-in. Only clinicians marked `listed_publicly` and appointment types marked
`bookable_online` appear. Nothing about patients is shown here, and the confirmation and
cancel links carry only a signed appointment id. A booking never joins an existing patient
record: it waits for reception's review (appointments.online).
"""

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache as cache_fn
from typing import cast
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db.models import F, QuerySet, Value
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import Engine
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.dateformat import time_format as format_time
from django.views.decorators.http import require_http_methods

from appointments.availability import generation_key, generations
from appointments.calendar_cache import NEVER, cached_by_generation
from appointments.holds import SlotHeld
from appointments.ics import appointment_ics
from appointments.links import appointment_from_link_token, appointment_link_token
from appointments.models import Appointment, AppointmentType, SlotHold
from appointments.online import (
    OnlineBookingFull,
    appointment_book_online,
    appointment_cancel_online,
    appointment_reschedule_online,
    online_change_refusal,
    slot_hold,
    slot_hold_mine,
    slot_hold_release,
)
from appointments.selectors import Slot, clinician_availability
from audit.services import audit_change
from booking.forms import PatientDetailsForm
from booking.next_times import ENTRY_SECONDS, cached_slots_until
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

DAYS_AHEAD = 14  # how far the directory and the reschedule page look for times
WEEKS_AHEAD = 4  # how far a clinician's page can be paged, a week at a time
NEXT_TIMES = 3
# The visitor's hold (appointments.holds) is known by this key in their session only.
HOLD_SESSION_KEY = "booking_hold"


@dataclass(frozen=True)
class ClinicContact:
    """What every public page says about a clinic: how to call it and whose clock it keeps."""

    name: str
    phone: str
    zone: str


def _contacts(clinics: Iterable[Clinic]) -> list[ClinicContact]:
    now = timezone.now()
    seen: dict[int, ClinicContact] = {}
    for clinic in clinics:
        if clinic.pk not in seen:
            seen[clinic.pk] = ClinicContact(
                name=clinic.name,
                phone=clinic.phone.as_national if clinic.phone else "",
                zone=zone_label(clinic.timezone, clinic.tz, now),
            )
    return list(seen.values())


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


@dataclass(frozen=True)
class Offer:
    """What the public pages offer: the services and the filters' choices. It changes only
    with the practice's setup, so it is kept under the availability generation that every
    such change replaces (appointments.availability), not read on every visit."""

    types: list[AppointmentType]
    clinics: list[Clinic]  # active, with a listed clinician
    disciplines: list[Discipline]
    phones: dict[int, str]  # each clinic's, as the contact line prints it (slow to format)

    def contacts(self, clinic_ids: Iterable[int] | None = None) -> list[ClinicContact] | None:
        """`_contacts` of these clinics (all of them by default) without formatting their
        phone numbers again; None when one is not a clinic of the offer."""
        by_pk = {clinic.pk: clinic for clinic in self.clinics}
        pks = list(by_pk) if clinic_ids is None else list(dict.fromkeys(clinic_ids))
        if any(pk not in by_pk for pk in pks):
            return None
        now = timezone.now()
        return [
            ClinicContact(
                name=by_pk[pk].name,
                phone=self.phones[pk],
                zone=zone_label(by_pk[pk].timezone, by_pk[pk].tz, now),
            )
            for pk in pks
        ]


OFFER_KEY = "booking:offer:2"


def _offer() -> Offer:
    values = cache.get_many([generation_key(None), OFFER_KEY])
    token = generations(values, [])[None]
    cached = values.get(OFFER_KEY)
    if cached is not None and cached[0] == token:
        return cast(Offer, cached[1])
    clinics = list(
        Clinic.objects.filter(is_active=True, clinicians__listed_publicly=True).distinct()
    )
    offer = Offer(
        types=list(_bookable_types()),
        clinics=clinics,
        disciplines=list(Discipline.objects.filter(clinicians__listed_publicly=True).distinct()),
        phones={
            contact.pk: contact.phone.as_national if contact.phone else "" for contact in clinics
        },
    )
    cache.set(OFFER_KEY, (token, offer), timeout=ENTRY_SECONDS)
    return offer


@dataclass(frozen=True)
class Card:
    """One clinician in the directory. Its text is cached with the setup (a listing, a name
    or a discipline changes it, and the practice-wide generation with it), and its links are
    made here rather than by template tags: the page lists up to 30 clinicians with three
    times each, for anyone, often."""

    pk: int
    name: str
    about: str  # disciplines · clinics
    accepting: bool


@dataclass(frozen=True)
class Listed:
    card: Card
    href: str
    times: list[tuple[str, str, str]]  # (link, "Fri 4 Dec, 9:00 AM", clinic name)


def _card_key(pk: int) -> str:
    return f"booking:card:{pk}"


def _cards(ids: list[int]) -> dict[int, Card]:
    values = cache.get_many([generation_key(None), *map(_card_key, ids)])
    token = generations(values, [])[None]
    cards: dict[int, Card] = {}
    for pk in ids:
        cached = values.get(_card_key(pk))
        if cached is not None and cached[0] == token:
            cards[pk] = cached[1]
    missing = [pk for pk in ids if pk not in cards]
    if not missing:
        return cards
    # Two queries for any number: the clinicians, then their disciplines' and clinics' names
    # together, each kind in the order `clinician.disciplines.all()` would give.
    clinicians = list(_listed().filter(pk__in=missing))
    if not clinicians:
        return cards
    found = [clinician.pk for clinician in clinicians]
    names: dict[tuple[int, int], list[str]] = defaultdict(list)
    disciplines = Clinician.disciplines.through.objects.filter(clinician_id__in=found).values(
        "clinician_id", kind=Value(0), name=F("discipline__name")
    )
    clinics = Clinician.clinics.through.objects.filter(clinician_id__in=found).values(
        "clinician_id", kind=Value(1), name=F("clinic__name")
    )
    for row in disciplines.union(clinics, all=True).order_by("kind", "name"):
        names[row["clinician_id"], row["kind"]].append(row["name"])
    fresh = {}
    for clinician in clinicians:
        about = " · ".join(
            part
            for part in (", ".join(names[clinician.pk, 0]), ", ".join(names[clinician.pk, 1]))
            if part
        )
        card = Card(clinician.pk, str(clinician), about, clinician.accepting_new_patients)
        cards[card.pk] = card
        fresh[_card_key(card.pk)] = (token, card)
    cache.set_many(fresh, timeout=ENTRY_SECONDS)
    return cards


def _listed_times(card: Card, slots: list[Slot], service: AppointmentType | None) -> Listed:
    page = reverse("booking:clinician", args=[card.pk])
    book = reverse("booking:book", args=[card.pk])
    times = []
    for slot in slots:
        local = slot.local_start
        query = f"?type={service.pk if service else ''}&clinic={slot.clinic.pk}"
        times.append(
            (
                f"{book}{query}&start={quote(local.isoformat(), safe='/')}",
                f"{format_date(local, 'D j M')}, {format_time(local, 'g:i A')}",
                slot.clinic.name,
            )
        )
    return Listed(card, f"{page}?type={service.pk}" if service else page, times)


@cache_fn
def _pages_version() -> str:
    """Cached page parts outlive a deploy by up to ENTRY_SECONDS: they are kept under the
    templates and the script they were made with, so a new release never serves an old
    page pointing at a script that has gone."""
    engine = Engine.get_default()
    sources = [engine.get_template(name).source for name in PAGE_TEMPLATES]
    sources.append(static("js/zones.js"))
    return hashlib.sha256("\0".join(sources).encode()).hexdigest()[:12]


PAGE_TEMPLATES = ("booking/_directory.html", "booking/_clinician.html", "booking/_zones.html")


def _notice_lapse(slots: Iterable[Slot]) -> float:
    """When the first of these times comes inside the minimum notice (epoch seconds): a page
    offering it must go then."""
    notice = 60 * settings.NEXUS_BOOKING_MIN_NOTICE_MINUTES
    return min((slot.start.timestamp() - notice for slot in slots), default=NEVER)


@require_http_methods(["GET"])
def directory(request: HttpRequest) -> HttpResponse:
    if refused := _limited(request, "directory", 60):
        return refused
    _funnel("directory_search")
    offer = _offer()
    name = request.GET.get("q", "").strip()[:80]
    discipline = request.GET.get("discipline", "")
    clinic = request.GET.get("clinic", "")
    # The next times depend on how long the visit is: the patient chooses the service first
    # (it was silently the shortest type), unless only one is offered.
    types = offer.types
    chosen = request.GET.get("type", "")
    service = next((t for t in types if str(t.pk) == chosen), types[0] if len(types) == 1 else None)
    ask = _Directory(name, discipline, clinic, service)
    contacts = offer.contacts() or _contacts(offer.clinics)
    context = {"body": _directory_body(offer, ask), "contacts": contacts}
    return render(request, "booking/directory.html", context)


@dataclass(frozen=True)
class _Directory:
    """What a visitor asked the directory for."""

    name: str
    discipline: str
    clinic: str
    service: AppointmentType | None


def _directory_body(offer: Offer, ask: _Directory) -> str:
    """The directory page's own part, the same for every visitor who asks the same: kept in
    the cache under the availability generations of the practice and of the clinicians it
    lists, until its first time comes inside the notice or a hold behind it lapses (the
    clinicians' entries in booking/next_times.py follow the same rules). A name search, or
    a filter that names no offered discipline or clinic, is made afresh each time: anyone
    could fill the cache with those."""
    if (
        ask.name
        or ask.discipline not in {"", *(str(d.pk) for d in offer.disciplines)}
        or ask.clinic not in {"", *(str(c.pk) for c in offer.clinics)}
    ):
        return _directory_made(offer, ask, _directory_found(ask))[0]
    filters = f"{ask.discipline}:{ask.clinic}"
    key = f"booking:directory:{_pages_version()}:{filters}:{timezone.localdate()}"
    if ask.service is None:
        return cached_by_generation(
            key,
            clinician_ids=[],
            compute=lambda: _directory_made(offer, ask, _directory_found(ask)),
        )
    # The times depend on each listed clinician's generation, so first which clinicians
    # these are (the practice's generation covers the list), then the page for just them.
    found = cached_by_generation(
        f"booking:directory:found:{filters}",
        clinician_ids=[],
        compute=lambda: (_directory_found(ask), NEVER),
    )
    listed = hashlib.sha256(",".join(map(str, found)).encode()).hexdigest()[:16]
    return cached_by_generation(
        f"{key}:{ask.service.pk}:{listed}",
        clinician_ids=found,
        compute=lambda: _directory_made(offer, ask, found),
    )


def _directory_found(ask: _Directory) -> list[int]:
    """The first 30 listed clinicians that match the visitor's filters."""
    clinicians = clinician_search(_listed().order_by("family_name", "given_name", "pk"), ask.name)
    if ask.discipline.isascii() and ask.discipline.isdigit():
        clinicians = clinicians.filter(disciplines=int(ask.discipline))
    if ask.clinic.isascii() and ask.clinic.isdigit():
        clinicians = clinicians.filter(clinics=int(ask.clinic))
    return list(clinicians.values_list("pk", flat=True).distinct()[:30])


def _directory_made(offer: Offer, ask: _Directory, found: list[int]) -> tuple[str, float]:
    """The page's part for these clinicians, and until when it holds without a write."""
    cards = _cards(found)
    shown = [cards[pk] for pk in found if pk in cards]  # one unlisted a moment ago: gone
    times: dict[int, list[Slot]] = {}
    until = NEVER
    service = ask.service
    if service and shown:
        today = timezone.localdate()
        times, until = cached_slots_until(
            clinician_ids=[c.pk for c in shown],
            appointment_type=service,
            start_date=today,
            end_date=today + timedelta(days=DAYS_AHEAD),
            earliest=_earliest_online(),
            clinics={c.pk: c for c in offer.clinics},
            limit=NEXT_TIMES,
        )
    listing = [(card, times.get(card.pk, [])) for card in shown]
    slots = [slot for _, card_slots in listing for slot in card_slots]
    context = {
        "listing": listing,
        "entries": [_listed_times(card, card_slots, service) for card, card_slots in listing],
        "q": ask.name,
        "discipline": ask.discipline,
        "clinic": ask.clinic,
        "disciplines": offer.disciplines,
        "clinics": offer.clinics,
        "types": offer.types,
        "service": service,
        "zones": zone_notes(places=((s.clinic, s.start) for s in slots)),
    }
    return render_to_string("booking/_directory.html", context), min(until, _notice_lapse(slots))


MAX_ID = 2**63 - 1  # the largest primary key (BigAutoField)


@dataclass(frozen=True)
class _ClinicianWeek:
    body: str
    clinic_ids: list[int]


@require_http_methods(["GET"])
def clinician_page(request: HttpRequest, clinician_id: int) -> HttpResponse:
    if refused := _limited(request, "slots", 60):
        return refused
    # Whether the clinician is listed, from the cards the directory keeps (no row is
    # cached for an id that is not, and no generation made for it below). An id past the
    # key's range names nobody; SQLite cannot even be asked about it.
    card = _cards([clinician_id]).get(clinician_id) if clinician_id <= MAX_ID else None
    if card is None:
        raise Http404
    offer = _offer()
    types = offer.types
    if not types:
        raise Http404
    chosen = request.GET.get("type", "")
    appointment_type = next((t for t in types if str(t.pk) == chosen), types[0])
    _funnel("slot_view")
    week = request.GET.get("week", "0")
    week_number = int(week) if week.isascii() and week.isdigit() and int(week) < WEEKS_AHEAD else 0
    first_day = timezone.localdate() + timedelta(days=7 * week_number)
    # The week as anyone sees it, kept like the directory's (_directory_body).
    key = (
        f"booking:clinician:{_pages_version()}:{clinician_id}:{appointment_type.pk}"
        f":{week_number}:{first_day}"
    )
    page = cached_by_generation(
        key,
        clinician_ids=[clinician_id],
        compute=lambda: _clinician_week(
            clinician_id, appointment_type, types, week_number, first_day
        ),
    )
    contacts = offer.contacts(page.clinic_ids)
    if contacts is None:
        contacts = _contacts(Clinic.objects.filter(pk__in=page.clinic_ids))
    context = {"title": card.name, "body": page.body, "contacts": contacts}
    return render(request, "booking/clinician.html", context)


def _clinician_week(
    clinician_id: int,
    appointment_type: AppointmentType,
    types: list[AppointmentType],
    week_number: int,
    first_day: date,
) -> tuple[_ClinicianWeek, float]:
    clinician = get_object_or_404(_listed().prefetch_related("disciplines"), pk=clinician_id)
    clinics = list(clinician.clinics.filter(is_active=True))
    found, until = cached_slots_until(
        clinician_ids=[clinician.pk],
        appointment_type=appointment_type,
        start_date=first_day,
        end_date=first_day + timedelta(days=6),
        earliest=_earliest_online(),
        clinics={c.pk: c for c in clinics},
    )
    slots = found[clinician.pk]
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
    page = _ClinicianWeek(
        body=render_to_string("booking/_clinician.html", context),
        clinic_ids=[c.pk for c in clinics],
    )
    return page, min(until, _notice_lapse(slots))


def _earliest_online() -> datetime:
    """The first start a visitor may choose: the practice's minimum notice from now."""
    return timezone.now() + timedelta(minutes=settings.NEXUS_BOOKING_MIN_NOTICE_MINUTES)


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
    if start is None:
        raise Http404
    appointment_type = get_object_or_404(_bookable_types(), pk=int(type_id))
    clinic = get_object_or_404(clinician.clinics.filter(is_active=True), pk=int(clinic_id))
    return appointment_type, clinic, start


def _too_soon(
    request: HttpRequest, clinician: Clinician, appointment_type: AppointmentType, start: datetime
) -> HttpResponse | None:
    """A time inside the minimum notice when chosen, or past by the time the details come
    back (an old tab, a link kept too long): back to the times, saying why."""
    limit = _earliest_online() if request.method == "GET" else timezone.now()
    if start > limit:
        return None
    messages.error(request, TOO_SOON)
    url = reverse("booking:clinician", args=[clinician.pk])
    return redirect(f"{url}?type={appointment_type.pk}")


def _hold(
    request: HttpRequest,
    clinician: Clinician,
    clinic: Clinic,
    appointment_type: AppointmentType,
    start: datetime,
) -> SlotHold | HttpResponse:
    """Choosing a time holds it for this visitor; a time someone else holds, or that has
    gone, sends them back to the times with the reason."""
    try:
        hold = slot_hold(
            clinician=clinician,
            clinic=clinic,
            appointment_type=appointment_type,
            start=start,
            replacing=request.session.get(HOLD_SESSION_KEY, ""),
        )
    except SlotHeld as held:
        messages.error(request, held.detail)
    except DomainError:
        messages.error(request, TAKEN)
    else:
        request.session[HOLD_SESSION_KEY] = hold.key
        return hold
    _funnel("slot_held_by_another")
    url = reverse("booking:clinician", args=[clinician.pk])
    return redirect(f"{url}?type={appointment_type.pk}")


@require_http_methods(["GET", "POST"])
def book(request: HttpRequest, clinician_id: int) -> HttpResponse:
    clinician = get_object_or_404(_listed(), pk=clinician_id)
    appointment_type, clinic, start = _slot_from(request, clinician)
    if gone := _too_soon(request, clinician, appointment_type, start):
        return gone
    hold: SlotHold | None = None
    if request.method == "GET":
        if refused := _limited(request, "hold", 20):
            return refused
        held = _hold(request, clinician, clinic, appointment_type, start)
        if isinstance(held, HttpResponse):
            return held
        hold = held
        _funnel("booking_started")
        form = PatientDetailsForm()
    else:
        if refused := _limited(request, "book", 10):
            return refused
        hold = slot_hold_mine(key=request.session.get(HOLD_SESSION_KEY, ""))
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
        "hold_until": in_zone(hold.expires_at, clinic.tz) if hold else None,
        "hold_minutes": settings.NEXUS_BOOKING_HOLD_MINUTES,
        "contacts": _contacts([clinic]),
    }
    return render(request, "booking/details.html", context)


@require_http_methods(["POST"])
def release(request: HttpRequest, clinician_id: int) -> HttpResponse:
    """ "Choose another time": the visitor's hold is let go at once, not left to expire."""
    slot_hold_release(key=request.session.pop(HOLD_SESSION_KEY, ""))
    type_id = request.POST.get("type", "")
    url = reverse("booking:clinician", args=[clinician_id])
    return redirect(f"{url}?type={type_id}" if type_id.isascii() and type_id.isdigit() else url)


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
            hold_key=request.session.get(HOLD_SESSION_KEY, ""),
            site_root=request.build_absolute_uri("/"),
        )
    except (OnlineBookingFull, SlotHeld) as refused:
        return None, refused.detail
    except DomainError:
        return None, TAKEN
    request.session.pop(HOLD_SESSION_KEY, None)
    audit_change(request=request, record=appointment, view="online_booking", created=True)
    _funnel("booking_completed")
    token = appointment_link_token(appointment=appointment)
    return redirect("booking:done", token=token), ""


TAKEN = (
    "Sorry, that time has just been taken or is no longer available. Please choose another time."
)
TOO_SOON = "That time is too soon to book online. Please choose a later time, or call the clinic."


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
    context = {
        "pending": pending,
        "ending": str(pending.details.phone)[-3:],
        "error": error,
        "contacts": _contacts(Clinic.objects.filter(pk=pending.clinic_id)),
    }
    return render(request, "booking/verify.html", context)


def _from_token(token: str) -> Appointment:
    appointment = appointment_from_link_token(token=token)
    if appointment is None:
        raise Http404
    return appointment


def _appointment_context(appointment: Appointment, token: str) -> dict[str, object]:
    return {
        "appointment": appointment,
        "local_start": in_zone(appointment.start, appointment.clinic.tz),
        "token": token,
        "refusal": online_change_refusal(appointment=appointment),
        "contacts": _contacts([appointment.clinic]),
    }


@require_http_methods(["GET"])
def done(request: HttpRequest, token: str) -> HttpResponse:
    """The booking's own page: the confirmation after booking, and where the SMS link leads."""
    appointment = _from_token(token)
    return render(request, "booking/done.html", _appointment_context(appointment, token))


@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, token: str) -> HttpResponse:
    appointment = _from_token(token)
    error = None
    if request.method == "POST" and appointment.can_move_to(Appointment.Status.CANCELLED):
        try:
            appointment = appointment_cancel_online(appointment=appointment)
        except DomainError as exc:
            error = exc.detail
        else:
            audit_change(request=request, record=appointment, view="online_cancel")
    context = _appointment_context(appointment, token) | {"error": error}
    return render(request, "booking/cancel.html", context)


@require_http_methods(["GET", "POST"])
def reschedule(request: HttpRequest, token: str) -> HttpResponse:
    """Another free time with the same clinician, at the same clinic, for the same visit."""
    appointment = _from_token(token)
    error = None
    if request.method == "POST":
        if refused := _limited(request, "reschedule", 10):
            return refused
        start = parse_aware_datetime(request.POST.get("start", ""))
        if start is None:
            error = "Choose one of the times below."
        else:
            try:
                appointment = appointment_reschedule_online(appointment=appointment, start=start)
            except SlotHeld as held:
                error = held.detail
            except DomainError as exc:
                error = exc.detail if exc.code != "slot_unavailable" else TAKEN
            else:
                audit_change(request=request, record=appointment, view="online_reschedule")
                messages.success(request, "Your appointment has moved.")
                return redirect("booking:done", token=token)
    context = _appointment_context(appointment, token)
    slots: list[Slot] = []
    if context["refusal"] is None:
        today = timezone.localdate()
        slots = clinician_availability(
            clinician=appointment.clinician,
            appointment_type=appointment.appointment_type,
            start_date=today,
            end_date=today + timedelta(days=DAYS_AHEAD),
            clinic=appointment.clinic,
        )
    by_day: dict[date, list[Slot]] = defaultdict(list)
    for slot in slots:
        by_day[slot.local_start.date()].append(slot)
    context |= {"days": sorted(by_day.items()), "error": error}
    return render(request, "booking/reschedule.html", context)


@require_http_methods(["GET"])
def calendar_file(request: HttpRequest, token: str) -> HttpResponse:
    """The appointment as an .ics file for the patient's own calendar."""
    appointment = _from_token(token)
    response = HttpResponse(
        appointment_ics(appointment=appointment, host=request.get_host().split(":")[0]),
        content_type="text/calendar; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="appointment.ics"'
    return response
