"""What Nexus says to patients, and when: confirmations, reminders, notices, staff texts.

Every function here writes outbox rows in the caller's transaction; nothing is sent until
that transaction commits (integrations/outbox.py). No SMS goes to a patient without SMS
consent and an Australian mobile; both are read at the moment the message is queued.
"""

import string
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from phonenumber_field.phonenumber import PhoneNumber

from accounts.models import User
from appointments.models import Appointment
from clinicians.models import Clinic
from integrations.models import Message, MessageTemplate
from integrations.outbox import outbox_enqueue, outbox_schedule_relay
from integrations.smsbroadcast.client import MAX_LENGTH
from nexus.errors import NoMobileNumber, NoSmsConsent, ValidationFailed
from patients.models import Patient

log = structlog.get_logger(__name__)

Kind = Message.Kind
REPLY_HINT = "Reply YES to confirm or NO to cancel."
# Nobody reads replies to email: an email asks for a call instead.
EMAIL_REPLY_HINT = "To change or cancel, please call {clinic_phone}."
DEFAULT_TEMPLATES: dict[str, str] = {
    Kind.CONFIRMATION: (
        "Hi {patient}, your {appointment_type} with {clinician} at {clinic} is booked for "
        "{date} at {time}. {reply_hint}"
    ),
    Kind.REMINDER: (
        "Reminder: {patient}, you have {appointment_type} with {clinician} at {clinic} on "
        "{date} at {time}. {reply_hint}"
    ),
    Kind.MOVED: (
        "Hi {patient}, your appointment with {clinician} at {clinic} has moved to {date} at "
        "{time}. {reply_hint}"
    ),
    Kind.CANCELLED: (
        "Hi {patient}, your appointment with {clinician} at {clinic} on {date} at {time} is "
        "cancelled. Call {clinic_phone} to book again."
    ),
}
TEMPLATE_KINDS = tuple(DEFAULT_TEMPLATES)
PLACEHOLDERS = (
    "patient",
    "clinic",
    "clinic_phone",
    "clinician",
    "appointment_type",
    "date",
    "time",
    "reply_hint",
)


def mobile_number(phone: PhoneNumber | str | None) -> str | None:
    """The E.164 form of an Australian mobile (+614…), or None: a landline is not a mobile."""
    if not phone:
        return None
    e164 = phone.as_e164 if isinstance(phone, PhoneNumber) else str(phone)
    if e164.startswith("+614") and len(e164) == 12 and e164[1:].isdigit():
        return e164
    return None


def _check_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise ValidationFailed("Write a message.", field="body")
    if len(body) > MAX_LENGTH:
        raise ValidationFailed(
            f"The message is {len(body)} characters; an SMS can be at most {MAX_LENGTH} (5 parts).",
            field="body",
        )
    return body


def sms_recipient(patient: Patient) -> str:
    """The number to text this patient at, or the reason Nexus may not."""
    if not patient.sms_consent:
        raise NoSmsConsent()
    number = mobile_number(patient.phone)
    if number is None:
        raise NoMobileNumber(field="patient")
    return number


@transaction.atomic
def sms_send(
    *,
    patient: Patient,
    body: str,
    kind: str = Kind.ADHOC,
    appointment: Appointment | None = None,
    created_by: User | None = None,
) -> Message:
    """Queue an SMS to a patient (consent and a mobile required); sent after commit."""
    body = _check_body(body)
    return outbox_enqueue(
        channel=Message.Channel.SMS,
        kind=kind,
        to=sms_recipient(patient),
        body=body,
        patient=patient,
        appointment=appointment,
        created_by=created_by,
    )


@transaction.atomic
def sms_send_to_number(
    *,
    to: PhoneNumber | str,
    body: str,
    kind: str = Kind.VERIFICATION,
    patient: Patient | None = None,
) -> Message:
    """Queue an SMS to a number someone just gave for this purpose (a booking verification
    code): no stored consent to check, but it must be an Australian mobile."""
    number = mobile_number(to)
    if number is None:
        raise NoMobileNumber("Enter an Australian mobile number (04…).", field="phone")
    return outbox_enqueue(
        channel=Message.Channel.SMS,
        kind=kind,
        to=number,
        body=_check_body(body),
        patient=patient,
    )


# --- Templates ---------------------------------------------------------------------------


def sms_when(moment: datetime, clinic: Clinic) -> tuple[str, str]:
    """The day and time a text names, on the clinic's wall clock: ("Mon 1 Mar", "9:30 am")."""
    # The patient reads the clinic's wall clock, not UTC and not the server's zone.
    local = moment.astimezone(clinic.tz)
    hour = local.hour % 12 or 12
    return (
        f"{local:%a} {local.day} {local:%b}",
        f"{hour}:{local.minute:02d} {'am' if local.hour < 12 else 'pm'}",
    )


def _context(appointment: Appointment, channel: str) -> dict[str, str]:
    date, time = sms_when(appointment.start, appointment.clinic)
    patient = appointment.patient
    clinic_phone = appointment.clinic.phone
    phone = clinic_phone.as_national if clinic_phone else "the clinic"
    email = channel == Message.Channel.EMAIL
    return {
        # First name only: the minimum a text needs.
        "patient": patient.preferred_name or patient.given_name,
        "clinic": appointment.clinic.name,
        "clinic_phone": phone,
        "clinician": appointment.clinician.display_name,
        "appointment_type": appointment.appointment_type.name,
        "date": date,
        "time": time,
        "reply_hint": EMAIL_REPLY_HINT.format(clinic_phone=phone) if email else REPLY_HINT,
    }


def template_check(body: str) -> None:
    """A template may use only the known {placeholders} and must fit in 5 parts."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(body) if name is not None]
    except ValueError:
        raise ValidationFailed("Braces must pair up, like {patient}.", field="body") from None
    unknown = sorted({name for name in fields if name not in PLACEHOLDERS})
    if unknown:
        raise ValidationFailed(
            f"Unknown placeholder {{{unknown[0]}}}; use "
            + ", ".join("{" + name + "}" for name in PLACEHOLDERS)
            + ".",
            field="body",
        )
    if not body.strip():
        raise ValidationFailed("Write the message.", field="body")
    # Generous sample values: a template that fits these fits real appointments.
    sample = dict.fromkeys(PLACEHOLDERS, "x" * 30) | {"reply_hint": REPLY_HINT}
    if len(body.format_map(sample)) > MAX_LENGTH:
        raise ValidationFailed(
            f"With long names this would pass {MAX_LENGTH} characters (5 SMS parts).",
            field="body",
        )


def templates_for(clinic_ids: Iterable[int]) -> dict[tuple[int, str], str]:
    return {
        (t.clinic_id, t.kind): t.body
        for t in MessageTemplate.objects.filter(clinic_id__in=set(clinic_ids))
    }


def message_render(
    *,
    appointment: Appointment,
    kind: str,
    templates: Mapping[tuple[int, str], str] | None = None,
    channel: str = Message.Channel.SMS,
) -> str:
    if templates is None:
        templates = templates_for([appointment.clinic_id])
    body = templates.get((appointment.clinic_id, kind)) or DEFAULT_TEMPLATES[kind]
    text = body.format_map(_context(appointment, channel)).strip()
    return text[:MAX_LENGTH]


@transaction.atomic
def message_template_save(*, clinic: Clinic, kind: str, body: str, user: User) -> MessageTemplate:
    if kind not in DEFAULT_TEMPLATES:
        raise ValidationFailed("There is no template of that kind.", field="kind")
    template_check(body)
    template, _ = MessageTemplate.objects.update_or_create(
        clinic=clinic, kind=kind, defaults={"body": body.strip(), "updated_by": user}
    )
    log.info("message_template.saved", clinic_id=clinic.pk, kind=kind, user_id=user.pk)
    return template


# --- Appointments ------------------------------------------------------------------------


EMAIL_SUBJECTS: dict[str, str] = {
    Kind.CONFIRMATION: "Your appointment is booked",
    Kind.REMINDER: "Appointment reminder",
    Kind.MOVED: "Your appointment has moved",
    Kind.CANCELLED: "Your appointment is cancelled",
}
NO_ACCOUNT = object()


def _email_account(patient: Patient, cache: dict[int | None, object]) -> object:
    """The account a patient's appointment email goes from (None: console backend), or
    NO_ACCOUNT when the clinic cannot send email now; cached per home clinic."""
    from integrations.gmail.services import email_sending_account

    key = patient.home_clinic_id
    if key not in cache:
        try:
            cache[key] = email_sending_account(account_id=None, patient=patient)
        except ValidationFailed:
            cache[key] = NO_ACCOUNT
    return cache[key]


def appointment_channels(
    patient: Patient, accounts: dict[int | None, object] | None = None
) -> list[tuple[str, str, int | None]]:
    """Where this patient's confirmations and reminders go: (channel, to, account_id).

    Email when they prefer it and have email consent, an address and a clinic that can send;
    otherwise SMS (consent and a mobile needed); both only when they asked for both."""
    accounts = {} if accounts is None else accounts
    routes: list[tuple[str, str, int | None]] = []
    wants = patient.reminder_channel
    number = mobile_number(patient.phone) if patient.sms_consent else None
    if wants in ("email", "both") and patient.email_consent and patient.email:
        account = _email_account(patient, accounts)
        if account is not NO_ACCOUNT:
            account_id = getattr(account, "pk", None)
            routes.append((Message.Channel.EMAIL, patient.email, account_id))
    if number is not None and (wants == "both" or not routes):
        routes.insert(0, (Message.Channel.SMS, number, None))
    return routes


def _with_link(text: str, manage_url: str) -> str:
    if not manage_url:
        return text
    tail = f" Change or cancel: {manage_url}"
    # The link must survive whole: shorten the message before it, never the link.
    return text[: MAX_LENGTH - len(tail)].rstrip() + tail


def appointment_notify(
    *, appointment: Appointment, kind: str, manage_url: str = ""
) -> Message | None:
    """The text or email a booking, move or cancellation sends, by the patient's preference.

    Called by the appointment services inside their transaction. A patient who takes
    neither simply gets nothing: the booking itself must not fail for that. Answers the
    first message queued. `manage_url`, the signed link to the appointment's own page
    (online bookings), goes at the end of the message."""
    patient = appointment.patient
    templates = templates_for([appointment.clinic_id])
    messages = [
        outbox_enqueue(
            channel=channel,
            kind=kind,
            to=to,
            body=_with_link(
                message_render(
                    appointment=appointment, kind=kind, templates=templates, channel=channel
                ),
                manage_url,
            ),
            subject=EMAIL_SUBJECTS[kind] if channel == Message.Channel.EMAIL else "",
            account_id=account_id,
            patient=patient,
            appointment=appointment,
        )
        for channel, to, account_id in appointment_channels(patient)
    ]
    return messages[0] if messages else None


def reminders_send(*, now: datetime | None = None, batch: int = 500) -> int:
    """Queue one reminder for every booked or confirmed appointment starting within the
    next NEXUS_SMS_REMINDER_HOURS that has none yet; answer how many were queued.

    Safe to run twice or concurrently: the partial unique constraint
    `message_one_reminder_per_appointment` lets only one reminder row exist per appointment,
    and rows another run inserted first are skipped (ON CONFLICT DO NOTHING)."""
    now = now or timezone.now()
    until = now + timedelta(hours=settings.NEXUS_SMS_REMINDER_HOURS)
    reminded = Message.objects.filter(appointment=OuterRef("pk"), kind=Kind.REMINDER)
    due = (
        Appointment.objects.filter(
            start__gt=now,
            start__lte=until,
            status__in=[Appointment.Status.BOOKED, Appointment.Status.CONFIRMED],
        )
        .filter(Q(patient__sms_consent=True) | Q(patient__email_consent=True))
        .exclude(Exists(reminded))
        .select_related("patient", "clinic", "clinician", "appointment_type")
        .order_by("start", "id")
    )
    queued = 0
    pending: list[Appointment] = []
    for appointment in due.iterator(chunk_size=batch):
        pending.append(appointment)
        if len(pending) >= batch:
            queued += _queue_reminders(pending, now)
            pending = []
    if pending:
        queued += _queue_reminders(pending, now)
    # Retries that came due, when there is no worker to time them (in-process mode).
    if settings.CELERY_TASK_ALWAYS_EAGER:
        from integrations.outbox import outbox_relay

        outbox_relay()
    log.info("sms.reminders_queued", count=queued)
    return queued


@transaction.atomic
def _queue_reminders(appointments: list[Appointment], now: datetime) -> int:
    templates = templates_for(a.clinic_id for a in appointments)
    accounts: dict[int | None, object] = {}
    rows: list[Message] = []
    for appointment in appointments:
        routes = appointment_channels(appointment.patient, accounts)
        if not routes:
            continue
        rows.extend(
            Message(
                channel=channel,
                kind=Kind.REMINDER,
                to=to,
                body=message_render(
                    appointment=appointment,
                    kind=Kind.REMINDER,
                    templates=templates,
                    channel=channel,
                ),
                subject=EMAIL_SUBJECTS[Kind.REMINDER] if channel == Message.Channel.EMAIL else "",
                account_id=account_id,
                patient_id=appointment.patient_id,
                appointment=appointment,
                next_attempt_at=now,
            )
            for channel, to, account_id in routes
        )
    # Another run may have inserted some of these since the query: those are skipped.
    Message.objects.bulk_create(rows, ignore_conflicts=True)
    queued = Message.objects.filter(
        kind=Kind.REMINDER,
        appointment_id__in=[row.appointment_id for row in rows],
        status=Message.Status.QUEUED,
        attempts=0,
    ).count()
    # Relays claim rows, so rows another run also handed over are still sent once.
    outbox_schedule_relay(messages=queued)
    return queued
