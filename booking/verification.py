"""Proving the mobile before an online booking holds a time (issue 12 item 3).

With NEXUS_BOOKING_VERIFY_MOBILE on, the details form sends a six-digit code by SMS to the
mobile given and keeps the booking waiting in the visitor's (server-side) session: only
a keyed hash of the code, an expiry and an attempt count are stored. The booking is made,
marked verified, when the code comes back in time; a few wrong tries end it.
"""

import secrets
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime

import structlog
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.utils.crypto import constant_time_compare, salted_hmac

from appointments.online import OnlineDetails
from integrations.models import Message
from integrations.services import sms_send_to_number
from nexus.errors import ValidationFailed

log = structlog.get_logger(__name__)

SESSION_KEY = "nexus_booking_verification"
CODE_SECONDS = 10 * 60
MAX_ATTEMPTS = 5
# Codes sent to one number per hour, whatever address asks: each SMS costs money and
# would otherwise let anyone pester a stranger's phone.
CODES_PER_NUMBER_PER_HOUR = 3


class VerificationFailed(ValidationFailed):
    code = "verification_failed"


@dataclass(frozen=True)
class PendingBooking:
    clinician_id: int
    clinic_id: int
    appointment_type_id: int
    start: datetime
    details: OnlineDetails


def verification_sms_send(*, to: str, body: str) -> None:
    """The one seam through which a verification code leaves Nexus: the SMS outbox, in
    this request's transaction, sent after it commits (a landline is refused here)."""
    sms_send_to_number(to=to, body=body, kind=Message.Kind.VERIFICATION)


def _digest(code: str, phone: str) -> str:
    return salted_hmac("nexus.booking.verification", f"{phone}:{code}").hexdigest()


def verification_start(*, session: SessionBase, pending: PendingBooking) -> None:
    """Send a fresh code for this booking and remember it (hashed) in the session."""
    phone = pending.details.phone
    sent_key = f"booking:codes:{_digest('', phone)}:{int(time.time() // 3600)}"
    cache.add(sent_key, 0, timeout=3600)
    try:
        sent = cache.incr(sent_key)
    except ValueError:
        sent = 1
    if sent > CODES_PER_NUMBER_PER_HOUR:
        raise VerificationFailed(
            "Too many codes were sent to this number. Please wait an hour or call the clinic."
        )
    code = f"{secrets.randbelow(1_000_000):06d}"
    verification_sms_send(to=phone, body=f"Your booking code is {code}. It expires in 10 minutes.")
    session[SESSION_KEY] = {
        "clinician_id": pending.clinician_id,
        "clinic_id": pending.clinic_id,
        "appointment_type_id": pending.appointment_type_id,
        "start": pending.start.isoformat(),
        "details": {
            **asdict(pending.details),
            "date_of_birth": pending.details.date_of_birth.isoformat(),
        },
        "digest": _digest(code, phone),
        "expires": time.time() + CODE_SECONDS,
        "attempts": 0,
    }
    log.info("booking.verification_sent")


def verification_pending(*, session: SessionBase) -> PendingBooking | None:
    stored = session.get(SESSION_KEY)
    if not isinstance(stored, dict):
        return None
    details = dict(stored["details"])
    details["date_of_birth"] = date.fromisoformat(details["date_of_birth"])
    return PendingBooking(
        clinician_id=stored["clinician_id"],
        clinic_id=stored["clinic_id"],
        appointment_type_id=stored["appointment_type_id"],
        start=datetime.fromisoformat(stored["start"]),
        details=OnlineDetails(**details),
    )


def verification_check(*, session: SessionBase, code: str) -> PendingBooking:
    """The waiting booking if `code` is right, in time and within the attempts; otherwise
    VerificationFailed (and the booking is forgotten once it can no longer succeed)."""
    stored = session.get(SESSION_KEY)
    pending = verification_pending(session=session)
    if pending is None or not isinstance(stored, dict):
        raise VerificationFailed("There is no booking waiting for a code. Please start again.")
    if time.time() > stored["expires"] or stored["attempts"] >= MAX_ATTEMPTS:
        verification_forget(session=session)
        raise VerificationFailed("This code has expired. Please choose your time again.")
    stored["attempts"] += 1
    session[SESSION_KEY] = stored
    if not constant_time_compare(_digest(code.strip(), pending.details.phone), stored["digest"]):
        left = MAX_ATTEMPTS - stored["attempts"]
        if left <= 0:
            verification_forget(session=session)
            raise VerificationFailed("That code is not right. Please choose your time again.")
        raise VerificationFailed(f"That code is not right. {left} tries left.")
    return pending


def verification_forget(*, session: SessionBase) -> None:
    session.pop(SESSION_KEY, None)
