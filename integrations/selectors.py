"""Reads of messages and replies, scoped to the requesting user."""

from django.db.models import Case, IntegerField, QuerySet, Value, When

from accounts.models import User
from integrations.models import InboundMessage, Message
from patients.models import Patient
from patients.selectors import patient_list


def message_list(*, user: User) -> QuerySet[Message]:
    # Messages follow their patient: whoever may see the patient may see what was sent.
    return Message.objects.filter(patient__in=patient_list(user=user)) | Message.objects.filter(
        patient__isnull=True
    )


def message_outbox(*, user: User) -> QuerySet[Message]:
    """The Messages page: failures nobody has handled first, then newest first."""
    attention = Case(
        When(status__in=Message.NEEDS_ATTENTION, handled_at__isnull=True, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return (
        message_list(user=user)
        .exclude(channel=Message.Channel.XERO)  # Xero pushes have their own sync queue page
        .select_related("patient", "appointment")
        .annotate(attention=attention)
        .order_by("attention", "-created_at", "-id")
    )


def messages_for_patient(*, user: User, patient: Patient) -> QuerySet[Message]:
    return message_list(user=user).filter(patient=patient).order_by("-created_at", "-id")


def inbox_list(*, user: User, include_handled: bool = False) -> QuerySet[InboundMessage]:
    qs = InboundMessage.objects.select_related("patient", "appointment__clinic").order_by(
        "-received_at", "-id"
    )
    if not include_handled:
        qs = qs.filter(outcome=InboundMessage.Outcome.INBOX, handled_at__isnull=True)
    return qs
