"""The waitlist's rules: adding patients, offering freed times by SMS, and the replies.

A time frees (a cancellation, a no-show, a move) → after that change commits, a task offers
it to the best-matched waiting patients (urgency, then waiting time), one at a time or the
first few at once, each by an SMS through the outbox. A YES books the time through
`appointment_book`, so the booking rules and the database's no-overlap rule decide a tie:
the loser is told the time has gone and the other offers for it lapse. Offers not answered
in time lapse (beat, and checked again at reply time) and the next patient is asked.
"""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

import structlog
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from appointments.availability import SLOT_STEP, open_blocks
from appointments.models import Appointment, AppointmentType
from appointments.services import appointment_book
from clinicians.models import Clinic, Clinician, Discipline
from integrations.models import InboundMessage, Message
from integrations.outbox import outbox_enqueue
from integrations.services import sms_recipient, sms_when
from nexus.errors import DomainError, InvalidTransition, ValidationFailed
from patients.models import Patient
from waitlist.models import WaitlistEntry, WaitlistOffer, WaitlistSettings

log = structlog.get_logger(__name__)

Outcome = InboundMessage.Outcome
EntryStatus = WaitlistEntry.Status
OfferStatus = WaitlistOffer.Status
# Texts whose reply a bare YES or NO (no `ref`) answers: the most recent of them to the number.
_QUESTIONS = (
    Message.Kind.WAITLIST_OFFER,
    Message.Kind.REMINDER,
    Message.Kind.CONFIRMATION,
    Message.Kind.MOVED,
)
OFFER_TEXT = (
    "Hi {patient}, a {appointment_type} with {clinician} at {clinic} has come free on "
    "{date} at {time}. Reply YES within {minutes} min to book it."
)
TAKEN_TEXT = (
    "Sorry {patient}, the {time} time on {date} with {clinician} has already gone. "
    "You stay on our waitlist."
)


def waitlist_settings() -> WaitlistSettings:
    settings_row, _ = WaitlistSettings.objects.get_or_create(pk=1)
    return settings_row


@transaction.atomic
def waitlist_settings_update(
    *, offer_mode: str, offer_batch: int, offer_expiry_minutes: int
) -> WaitlistSettings:
    if offer_mode not in WaitlistSettings.Mode.values:
        raise ValidationFailed("Choose one at a time or the first few.", field="offer_mode")
    if not 1 <= offer_batch <= 20:
        raise ValidationFailed("Offer a time to between 1 and 20 patients.", field="offer_batch")
    if not 5 <= offer_expiry_minutes <= 24 * 60:
        raise ValidationFailed(
            "An offer lasts between 5 minutes and a day.", field="offer_expiry_minutes"
        )
    waitlist_settings()
    row = WaitlistSettings.objects.select_for_update().get(pk=1)
    row.offer_mode, row.offer_batch = offer_mode, offer_batch
    row.offer_expiry_minutes = offer_expiry_minutes
    row.save()
    return row


# --- Entries -----------------------------------------------------------------------------


@transaction.atomic
def waitlist_entry_add(
    *,
    patient: Patient,
    appointment_type: AppointmentType,
    clinics: Iterable[Clinic],
    clinician: Clinician | None = None,
    discipline: Discipline | None = None,
    days: Iterable[int] = range(7),
    earliest: time = time(0, 0),
    latest: time = time(23, 59),
    urgency: int = WaitlistEntry.Urgency.ROUTINE,
    expires: date | None = None,
    notes: str = "",
    created_by: User | None = None,
) -> WaitlistEntry:
    clinics = list(clinics)
    days = sorted(set(days))
    if (clinician is None) == (discipline is None):
        raise ValidationFailed("Choose a clinician or a discipline, not both.", field="clinician")
    if not clinics:
        raise ValidationFailed("Choose at least one clinic.", field="clinics")
    if not days or any(not isinstance(d, int) or not 0 <= d <= 6 for d in days):
        raise ValidationFailed("Choose the days that suit (0 = Monday … 6 = Sunday).", field="days")
    if latest <= earliest:
        raise ValidationFailed("The latest time must be after the earliest.", field="latest")
    if urgency not in WaitlistEntry.Urgency.values:
        raise ValidationFailed("Choose routine, soon or urgent.", field="urgency")
    if patient.archived:
        raise ValidationFailed("This patient is archived; restore them first.", field="patient")
    if not appointment_type.is_active:
        raise ValidationFailed(
            "This appointment type is no longer offered.", field="appointment_type"
        )
    if clinician is not None and not clinician.clinics.filter(pk__in=[c.pk for c in clinics]):
        raise ValidationFailed(f"{clinician} works at none of those clinics.", field="clinics")
    if expires is not None and expires < timezone.localdate():
        raise ValidationFailed("The waitlist entry would expire in the past.", field="expires")
    entry = WaitlistEntry.objects.create(
        patient=patient,
        clinician=clinician,
        discipline=discipline,
        appointment_type=appointment_type,
        days=days,
        earliest=earliest,
        latest=latest,
        urgency=urgency,
        expires=expires,
        notes=notes.strip(),
        created_by=created_by,
    )
    entry.clinics.set(clinics)
    log.info("waitlist.entry_added", entry_id=entry.pk, patient_id=patient.pk)
    return entry


@transaction.atomic
def waitlist_entry_remove(*, entry: WaitlistEntry) -> WaitlistEntry:
    current = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
    if current.status not in WaitlistEntry.WAITING:
        raise InvalidTransition(
            f"A {current.get_status_display().lower()} entry cannot be removed."
        )
    now = timezone.now()
    current.offers.filter(status=OfferStatus.PENDING).update(
        status=OfferStatus.LAPSED, answered_at=now
    )
    current.status = EntryStatus.REMOVED
    current.save(update_fields=["status", "updated_at"])
    log.info("waitlist.entry_removed", entry_id=current.pk)
    return current


# --- Offering a freed time ---------------------------------------------------------------


def waitlist_time_freed_later(
    *, clinician_id: int, clinic_id: int, start: datetime, end: datetime
) -> None:
    """Called by the appointment services inside their transaction: once it commits, a
    task offers the time. Never fails the change that freed it (broker down: logged)."""

    def enqueue() -> None:
        from waitlist.tasks import waitlist_time_offer_task

        try:
            waitlist_time_offer_task.apply_async(
                (clinician_id, clinic_id, start.isoformat(), end.isoformat())
            )
        except Exception:
            log.exception("waitlist.enqueue_failed", clinician_id=clinician_id)

    transaction.on_commit(enqueue)


def _slot_free(*, clinician: Clinician, clinic: Clinic, start: datetime, end: datetime) -> bool:
    """[start, end) lies in free time by the one availability engine: inside working hours,
    clear of time off, appointments and live online holds."""
    day = start.astimezone(clinic.tz).date()
    blocks = open_blocks(clinician_ids=[clinician.pk], start_date=day, end_date=day, clinic=clinic)
    return any(
        free_start <= start and end <= free_end
        for block in blocks
        for free_start, free_end in block.free
    )


def _patient_busy(patient_id: int, start: datetime, end: datetime) -> bool:
    return (
        Appointment.objects.overlapping(start, end)
        .filter(patient_id=patient_id, status__in=Appointment.ACTIVE_STATUSES)
        .exists()
    )


def waitlist_candidates(
    *, clinician: Clinician, clinic: Clinic, start: datetime
) -> QuerySet[WaitlistEntry]:
    """Waiting entries this time could suit, best first (urgency, then waiting time), before
    the per-entry checks of day, hours and duration. Not yet offered this very time."""
    local_today = timezone.now().astimezone(clinic.tz).date()
    offered = WaitlistOffer.objects.filter(entry=OuterRef("pk"), clinician=clinician, start=start)
    return (
        WaitlistEntry.objects.filter(status=EntryStatus.ACTIVE, clinics=clinic)
        .filter(
            Q(clinician=clinician)
            | Q(clinician__isnull=True, discipline__in=clinician.disciplines.all())
        )
        .filter(Q(expires__isnull=True) | Q(expires__gte=local_today))
        .filter(patient__archived=False, patient__sms_consent=True)
        .exclude(Exists(offered))
        .select_related("patient", "appointment_type")
        .order_by("-urgency", "created_at", "id")
    )


def _suits(entry: WaitlistEntry, clinic: Clinic, start: datetime, end: datetime) -> bool:
    # The entry's days and hours are wall-clock in the clinic's zone, like working hours.
    local_start, local_end = start.astimezone(clinic.tz), end.astimezone(clinic.tz)
    return (
        local_start.date() == local_end.date()
        and local_start.weekday() in entry.days
        and entry.earliest <= local_start.time()
        and local_end.time() <= entry.latest
        and entry.appointment_type.is_active
    )


def _offer_text(offer: WaitlistOffer, template: str, minutes: int = 0) -> str:
    patient = offer.entry.patient
    day, clock = sms_when(offer.start, offer.clinic)
    return template.format(
        patient=patient.preferred_name or patient.given_name,
        appointment_type=offer.entry.appointment_type.name,
        clinician=offer.clinician.display_name,
        clinic=offer.clinic.name,
        date=day,
        time=clock,
        minutes=minutes,
    )


@transaction.atomic
def waitlist_offer_time(
    *,
    clinician: Clinician,
    clinic: Clinic,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> list[WaitlistOffer]:
    """Offer a free time to the next waiting patients it suits, by SMS; answer the offers
    made. Does nothing for a time in the past, taken again, or already offered to enough
    patients (one at a time, or the practice's first few)."""
    now = now or timezone.now()
    if start <= now or not clinician.is_active:
        return []
    # One offering per clinician at a time, so two freed-time tasks cannot both top the
    # offers up past the practice's number.
    Clinician.objects.select_for_update().filter(pk=clinician.pk).first()
    choices = waitlist_settings()
    wanted = (
        choices.per_time
        - WaitlistOffer.objects.filter(
            clinician=clinician, start__lt=end, end__gt=start, status=OfferStatus.PENDING
        ).count()
    )
    offers: list[WaitlistOffer] = []
    if wanted <= 0:
        return offers
    expires_at = now + timedelta(minutes=choices.offer_expiry_minutes)
    for entry in waitlist_candidates(clinician=clinician, clinic=clinic, start=start).iterator():
        if len(offers) >= wanted:
            break
        entry_end = start + entry.appointment_type.duration
        if not _suits(entry, clinic, start, entry_end):
            continue
        if not _slot_free(clinician=clinician, clinic=clinic, start=start, end=entry_end):
            continue
        if _patient_busy(entry.patient_id, start, entry_end):
            continue
        try:
            to = sms_recipient(entry.patient)
        except DomainError:
            continue  # No consent or no mobile: an offer could not reach them.
        # The entry may be offered another time at this moment: only one offer in flight.
        if not WaitlistEntry.objects.filter(pk=entry.pk, status=EntryStatus.ACTIVE).update(
            status=EntryStatus.OFFERED, updated_at=now
        ):
            continue
        try:
            with transaction.atomic():
                offer = WaitlistOffer.objects.create(
                    entry=entry,
                    clinician=clinician,
                    clinic=clinic,
                    start=start,
                    end=entry_end,
                    expires_at=expires_at,
                )
        except IntegrityError:
            WaitlistEntry.objects.filter(pk=entry.pk).update(status=EntryStatus.ACTIVE)
            continue
        offer.message = outbox_enqueue(
            channel=Message.Channel.SMS,
            kind=Message.Kind.WAITLIST_OFFER,
            to=to,
            body=_offer_text(offer, OFFER_TEXT, choices.offer_expiry_minutes),
            patient=entry.patient,
        )
        offer.save(update_fields=["message"])
        offers.append(offer)
        log.info("waitlist.offered", offer_id=offer.pk, entry_id=entry.pk)
    return offers


# --- Replies -----------------------------------------------------------------------------


def waitlist_offer_for_reply(*, sender: str, message: Message | None) -> WaitlistOffer | None:
    """The offer a YES or NO from `sender` answers, or None when it answers something else.

    With SMS Broadcast's `ref` (our outbox id) the reply answers that very message. Without
    it, it answers the most recent question Nexus texted that number: an offer, or a
    reminder/confirmation (then the reply confirms or cancels that appointment as before)."""
    if message is None:
        message = (
            Message.objects.filter(to=sender, channel=Message.Channel.SMS, kind__in=_QUESTIONS)
            .order_by("-created_at", "-id")
            .first()
        )
    if message is None or message.kind != Message.Kind.WAITLIST_OFFER:
        return None
    return WaitlistOffer.objects.filter(message=message).first()


def _other_offers_lapse(offer: WaitlistOffer, now: datetime) -> int:
    """The time has gone: the other pending offers for it lapse. An offer another reply is
    working on right now is locked; that reply finds the time taken by itself."""
    others = WaitlistOffer.objects.filter(
        clinician_id=offer.clinician_id,
        start__lt=offer.end,
        end__gt=offer.start,
        status=OfferStatus.PENDING,
    ).exclude(pk=offer.pk)
    if connection.vendor == "postgresql":
        others = others.select_for_update(skip_locked=True)
    lapsed = 0
    for other in others:
        _close(other, OfferStatus.LAPSED, now)
        lapsed += 1
    return lapsed


def _close(offer: WaitlistOffer, status: str, now: datetime) -> None:
    """End a pending offer; its entry waits again (unless it booked)."""
    offer.status, offer.answered_at = status, now
    offer.save(update_fields=["status", "answered_at", "appointment"])
    entry_status = EntryStatus.BOOKED if status == OfferStatus.ACCEPTED else EntryStatus.ACTIVE
    WaitlistEntry.objects.filter(pk=offer.entry_id, status=EntryStatus.OFFERED).update(
        status=entry_status, updated_at=now
    )


def _tell_taken(offer: WaitlistOffer) -> None:
    try:
        to = sms_recipient(offer.entry.patient)
    except DomainError:
        return
    outbox_enqueue(
        channel=Message.Channel.SMS,
        kind=Message.Kind.WAITLIST_TAKEN,
        to=to,
        body=_offer_text(offer, TAKEN_TEXT),
        patient=offer.entry.patient,
    )


def _offer_again_later(offer: WaitlistOffer) -> None:
    waitlist_time_freed_later(
        clinician_id=offer.clinician_id,
        clinic_id=offer.clinic_id,
        start=offer.start,
        end=offer.end,
    )


def _locked(offer: WaitlistOffer) -> WaitlistOffer:
    return (
        WaitlistOffer.objects.select_for_update(of=("self",))
        .select_related("entry__patient", "entry__appointment_type", "clinician", "clinic")
        .get(pk=offer.pk)
    )


@transaction.atomic
def waitlist_offer_reply(
    *, offer: WaitlistOffer, accept: bool, now: datetime | None = None
) -> tuple[str, Appointment | None]:
    """A YES books the offered time, a NO declines it; answers the reply's outcome and the
    appointment booked. The first YES wins: the booking service and the database's
    no-overlap rule decide a tie, and the loser is told the time has gone."""
    now = now or timezone.now()
    offer = _locked(offer)
    if offer.status == OfferStatus.ACCEPTED:
        return Outcome.BOOKED, offer.appointment  # The same YES again.
    if offer.status == OfferStatus.PENDING and offer.expires_at <= now:
        _close(offer, OfferStatus.LAPSED, now)
        _offer_again_later(offer)
    if not accept:
        if offer.status == OfferStatus.PENDING:
            _close(offer, OfferStatus.DECLINED, now)
            _offer_again_later(offer)
        return Outcome.DECLINED, None
    if offer.status != OfferStatus.PENDING:
        _tell_taken(offer)
        return Outcome.TAKEN, None
    entry = offer.entry
    try:
        with transaction.atomic():
            appointment = appointment_book(
                patient=entry.patient,
                clinician=offer.clinician,
                clinic=offer.clinic,
                appointment_type=entry.appointment_type,
                start=offer.start,
                end=offer.end,
                notes="Booked from the waitlist by SMS.",
            )
            offer.appointment = appointment
            _close(offer, OfferStatus.ACCEPTED, now)
    except (DomainError, IntegrityError):
        # Someone else's YES (or a booking by hand) got there first.
        offer.refresh_from_db(fields=["status", "appointment"])
        _close(offer, OfferStatus.TAKEN, now)
        _tell_taken(offer)
        log.info("waitlist.offer_taken", offer_id=offer.pk)
        return Outcome.TAKEN, None
    _other_offers_lapse(offer, now)
    log.info("waitlist.offer_booked", offer_id=offer.pk, appointment_id=appointment.pk)
    return Outcome.BOOKED, appointment


def waitlist_offers_lapse(*, now: datetime | None = None, limit: int = 500) -> int:
    """Beat: offers not answered in time lapse and their times go to the next patients;
    entries past their last day expire. Safe to run twice. Answers how many lapsed."""
    now = now or timezone.now()
    due = list(
        WaitlistOffer.objects.filter(status=OfferStatus.PENDING, expires_at__lte=now)
        .order_by("expires_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    lapsed = 0
    for pk in due:
        with transaction.atomic():
            offer = _locked(WaitlistOffer(pk=pk))
            if offer.status != OfferStatus.PENDING or offer.expires_at > now:
                continue
            _close(offer, OfferStatus.LAPSED, now)
            _offer_again_later(offer)
            lapsed += 1
    # A day in the practice's default zone: an entry may name clinics in several zones, and
    # matching checks the clinic-local day of each time anyway.
    today = now.astimezone(timezone.get_default_timezone()).date()
    WaitlistEntry.objects.filter(status=EntryStatus.ACTIVE, expires__lt=today).update(
        status=EntryStatus.EXPIRED, updated_at=now
    )
    if lapsed:
        log.info("waitlist.offers_lapsed", offers=lapsed)
    return lapsed


def waitlist_time_offer(
    *,
    clinician_id: int,
    clinic_id: int,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> int:
    """The task's body: look the rows up, offer the time; answers how many offers went out.
    A time that has already begun (a no-show, marked after the start) offers what is left
    of it, from the next start on the clinician's grid."""
    now = now or timezone.now()
    if start <= now < end:
        return waitlist_window_offer(
            clinician_id=clinician_id, clinic_id=clinic_id, start=start, end=end, now=now
        )
    clinician = Clinician.objects.filter(pk=clinician_id).first()
    clinic = Clinic.objects.filter(pk=clinic_id).first()
    if clinician is None or clinic is None:
        return 0
    offers = waitlist_offer_time(clinician=clinician, clinic=clinic, start=start, end=end, now=now)
    return len(offers)


# A window that came free all at once (time off removed) is offered from the start of each
# free stretch in its first WINDOW_DAYS: a long leave cancelled frees weeks, and texting the
# whole waitlist about them at once would be noise; later times are found by who books them.
WINDOW_DAYS = 14


def waitlist_window_freed_later(
    *, clinician_id: int, clinic_id: int | None, start: datetime, end: datetime
) -> None:
    """Called inside the transaction that freed a window (time off removed): after commit,
    a task offers the first free time of each free stretch in it."""

    def enqueue() -> None:
        from waitlist.tasks import waitlist_window_offer_task

        try:
            waitlist_window_offer_task.apply_async(
                (clinician_id, clinic_id, start.isoformat(), end.isoformat())
            )
        except Exception:
            log.exception("waitlist.enqueue_failed", clinician_id=clinician_id)

    transaction.on_commit(enqueue)


def waitlist_window_offer(
    *,
    clinician_id: int,
    clinic_id: int | None,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> int:
    """Offer the start of each free stretch of [start, end) (at this clinic, or at each of
    the clinician's clinics) to the waitlist; answers how many offers went out."""
    now = now or timezone.now()
    clinician = Clinician.objects.filter(pk=clinician_id, is_active=True).first()
    if clinician is None:
        return 0
    clinics = clinician.clinics.filter(is_active=True)
    if clinic_id is not None:
        clinics = clinics.filter(pk=clinic_id)
    start = max(start, now)
    end = min(end, start + timedelta(days=WINDOW_DAYS))
    offered = 0
    for clinic in clinics:
        if start >= end:
            break
        first_day, last_day = start.astimezone(clinic.tz).date(), end.astimezone(clinic.tz).date()
        for block in open_blocks(
            clinician_ids=[clinician.pk], start_date=first_day, end_date=last_day, clinic=clinic
        ):
            for free_start, free_end in block.free:
                stretch_start, stretch_end = max(free_start, start), min(free_end, end)
                # The block's own grid, as the booking panel offers times.
                starts = block.starts(length=SLOT_STEP, not_before=stretch_start)
                first = next((s for s in starts if s + SLOT_STEP <= stretch_end), None)
                if first is not None:
                    offered += len(
                        waitlist_offer_time(
                            clinician=clinician,
                            clinic=clinic,
                            start=first,
                            end=stretch_end,
                            now=now,
                        )
                    )
    return offered
