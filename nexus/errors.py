"""Domain errors raised by services and turned into API responses in one place.

Services raise these instead of DRF exceptions so the staff UI, the API, management commands
and Celery tasks all share one vocabulary for "this cannot be done, and here is why".
"""

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError


class DomainError(Exception):
    status_code = 400
    code = "invalid"
    default_detail = "The request could not be completed."

    def __init__(
        self,
        detail: str | None = None,
        *,
        field: str | None = None,
        errors: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        self.field = field
        # Field name -> messages, when several fields fail at once (a form or API body).
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}
        if field and not self.errors:
            self.errors = {field: [self.detail]}
        # More the API says beside {"detail", "code"}: ids or times, never patient data.
        self.extra: dict[str, Any] = {}
        super().__init__(self.detail)


class ValidationFailed(DomainError):
    status_code = 400
    code = "invalid"

    @classmethod
    def from_django(cls, error: DjangoValidationError) -> "ValidationFailed":
        """Model validation (full_clean) in the vocabulary services speak."""
        if hasattr(error, "error_dict"):
            errors = error.message_dict
        else:
            errors = {"non_field_errors": error.messages}
        return cls("Some fields are not valid.", errors=errors)


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class SlotUnavailable(Conflict):
    code = "slot_unavailable"
    default_detail = "The clinician already has an appointment that overlaps this time."


class OutsideWorkingHours(ValidationFailed):
    code = "outside_working_hours"
    default_detail = (
        "This time is outside the clinician's working hours at this clinic or during time off. "
        "Book it anyway with override_working_hours if you are sure."
    )


class SeriesConflict(Conflict):
    """Some times of a repeat booking cannot be booked; `clashes` lists them, each with
    its start, end and the code of what stands in its way."""

    code = "series_conflict"

    def __init__(self, detail: str, *, clashes: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.extra = {"clashes": clashes}


class InvalidTransition(Conflict):
    code = "invalid_transition"


class NoteSigned(Conflict):
    code = "note_signed"
    default_detail = "This note is signed and can no longer change; add an addendum instead."


class PermissionDenied(DomainError):
    status_code = 403
    code = "permission_denied"
    default_detail = "You do not have permission to do this."


class AuditUnavailable(DomainError):
    """The audit trail could not record an access, so the data is not handed out
    (security.md R18: fail closed)."""

    status_code = 503
    code = "audit_unavailable"
    default_detail = (
        "This could not be shown because the access could not be recorded. Please try again."
    )


class NoSmsConsent(Conflict):
    code = "sms_no_consent"
    default_detail = "This patient has not agreed to receive SMS."


class NoEmailConsent(Conflict):
    code = "email_no_consent"
    default_detail = "This patient has not agreed to receive email."


class NoEmailAddress(ValidationFailed):
    code = "email_no_address"
    default_detail = "There is no email address on file for that recipient."


class EmailAccountUnavailable(Conflict):
    code = "email_account_unavailable"
    default_detail = "That email account is not connected; connect it again in Settings."


class NoMobileNumber(ValidationFailed):
    code = "sms_no_mobile"
    default_detail = "This patient has no Australian mobile number on file."


class AlreadyInvoiced(Conflict):
    code = "already_invoiced"
    default_detail = "This appointment already has an invoice; void it first to raise another."


class NotBillable(Conflict):
    code = "not_billable"
    default_detail = "Only a completed appointment can be invoiced."


class AiDisabled(DomainError):
    status_code = 403
    code = "ai_disabled"
    default_detail = "AI drafting is switched off for this practice."


class AiJobRunning(Conflict):
    code = "ai_job_running"
    default_detail = "A draft for this note is already being written; wait for it to finish."


class AiDailyLimit(DomainError):
    status_code = 429
    code = "ai_daily_limit"
    default_detail = "You have reached today's limit of AI drafts. Write this one by hand."
