"""Property test (security.md R38): no sequence of bookings, moves and cancellations ever
leaves a clinician with two active appointments that overlap."""

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from appointments.models import Appointment
from appointments.services import appointment_book, appointment_cancel, appointment_reschedule
from nexus.errors import DomainError
from tests.conftest import MONDAY, sydney
from tests.factories import (
    AppointmentTypeFactory,
    ClinicFactory,
    ClinicianFactory,
    PatientFactory,
    WorkingHoursFactory,
)

quarter_hours = st.integers(min_value=0, max_value=40)  # 08:00 to 18:00
actions = st.lists(
    st.one_of(
        st.tuples(st.just("book"), quarter_hours, st.sampled_from([15, 30, 45, 60])),
        st.tuples(st.just("move"), st.integers(0, 50), quarter_hours),
        st.tuples(st.just("cancel"), st.integers(0, 50), st.just(0)),
    ),
    max_size=25,
)


class BookingInvariantTests(TestCase):
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(steps=actions)
    def test_active_appointments_never_overlap(self, steps):
        clinic = ClinicFactory(name="Invariant clinic")
        clinician = ClinicianFactory(clinics=[clinic])
        WorkingHoursFactory(clinician=clinician, clinic=clinic, weekday=0)
        patient = PatientFactory()
        types = {
            m: AppointmentTypeFactory(name=f"{m} min", duration_minutes=m) for m in (15, 30, 45, 60)
        }
        day_start = sydney(MONDAY, 8)

        for action, a, b in steps:
            try:
                if action == "book":
                    appointment_book(
                        patient=patient,
                        clinician=clinician,
                        clinic=clinic,
                        appointment_type=types[b],
                        start=day_start + timedelta(minutes=15 * a),
                        override_working_hours=True,
                    )
                    continue
                existing = list(Appointment.objects.order_by("pk"))
                if not existing:
                    continue
                target = existing[a % len(existing)]
                if action == "move":
                    appointment_reschedule(
                        appointment=target,
                        start=day_start + timedelta(minutes=15 * b),
                        override_working_hours=True,
                    )
                else:
                    appointment_cancel(appointment=target, reason="property test")
            except DomainError:
                pass  # Refusals are fine; what matters is the state they leave.

            active = list(
                Appointment.objects.filter(status__in=Appointment.ACTIVE_STATUSES).order_by("start")
            )
            for earlier, later in itertools.pairwise(active):
                assert earlier.end <= later.start, (earlier, later)
            assert all(a.end > a.start for a in active)
