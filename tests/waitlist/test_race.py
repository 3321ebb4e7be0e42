"""Three patients offered the same time reply YES at the same moment, through the SMS
webhook, each on its own thread and database connection: the database decides."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from appointments.models import Appointment
from appointments.services import appointment_cancel
from integrations.models import InboundMessage, Message
from tests.conftest import MONDAY, requires_postgres, sydney
from tests.factories import AppointmentFactory
from tests.waitlist.conftest import INBOUND, waiting
from waitlist.models import WaitlistEntry, WaitlistOffer
from waitlist.services import waitlist_settings_update

PATIENTS = 3
ROUNDS = 5


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_three_yes_replies_at_once_book_the_time_once_and_tell_two_it_was_taken(practice):
    # Given a practice that offers a freed time to the first three patients at once
    waitlist_settings_update(offer_mode="first_n", offer_batch=PATIENTS, offer_expiry_minutes=30)
    figures = []
    for hour in range(10, 10 + ROUNDS):
        WaitlistEntry.objects.filter(status="active").update(status="removed")
        entries = [waiting(practice) for _ in range(PATIENTS)]
        booked = AppointmentFactory(
            clinician=practice.clinician,
            clinic=practice.clinic,
            appointment_type=practice.consult,
            start=sydney(MONDAY, hour),
        )
        # (transaction=True: the cancellation commits and its after-commit offers run.)
        appointment_cancel(appointment=booked, reason="Unwell")
        offers = list(WaitlistOffer.objects.filter(start=booked.start, status="pending"))
        assert len(offers) == PATIENTS
        barrier = threading.Barrier(PATIENTS)

        def say_yes(offer: WaitlistOffer, barrier: threading.Barrier = barrier) -> int:
            try:
                barrier.wait()
                response = Client().get(
                    INBOUND,
                    {
                        "from": offer.message.to.lstrip("+"),
                        "message": "YES",
                        "ref": str(offer.message.pk),
                    },
                )
                return response.status_code
            finally:
                connection.close()

        # When all three reply YES at once
        with ThreadPoolExecutor(max_workers=PATIENTS) as pool:
            statuses = list(pool.map(say_yes, offers))

        # Then exactly one is booked, two are told it was taken, and nothing overlaps
        outcomes = list(
            InboundMessage.objects.filter(in_reply_to__in=[o.message for o in offers])
            .order_by("outcome")
            .values_list("outcome", flat=True)
        )
        active = Appointment.objects.filter(
            clinician=practice.clinician,
            start=booked.start,
            status__in=Appointment.ACTIVE_STATUSES,
        )
        taken_texts = Message.objects.filter(
            kind="waitlist_taken", patient__in=[e.patient for e in entries]
        ).count()
        lost_at_the_database = WaitlistOffer.objects.filter(
            start=booked.start, status="taken"
        ).count()
        figures.append(
            (
                statuses.count(200),
                outcomes.count("booked"),
                outcomes.count("taken"),
                lost_at_the_database,
            )
        )
        assert statuses == [200] * PATIENTS
        assert outcomes == ["booked", "taken", "taken"]
        assert active.count() == 1
        assert active.get().patient in {e.patient for e in entries}
        assert taken_texts == 2
        assert WaitlistOffer.objects.filter(start=booked.start, status="accepted").count() == 1
        # Taken when it lost the race itself, lapsed when the winner finished first.
        assert (
            WaitlistOffer.objects.filter(start=booked.start, status__in=["taken", "lapsed"]).count()
            == 2
        )
    print(
        f"\nwaitlist race: {ROUNDS} rounds x {PATIENTS} simultaneous YES replies -> "
        + "; ".join(
            f"{ok} answered 200, {b} booked, {t} told taken ({d} refused by the booking rule)"
            for ok, b, t, d in figures
        )
    )
