"""Property test (issue 20): for random repeat rules over random existing appointments and
time off, a series booked with "skip" never overlaps anything, every occurrence it books
falls in working hours clear of time off unless overridden, and each keeps the first one's
clinic-local weekday and time, including across Sydney's daylight-saving changes."""

import itertools
from datetime import date, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from appointments.models import Appointment
from appointments.recurrence import SeriesRule
from appointments.series import appointment_series_book, series_preview
from appointments.services import within_working_hours
from nexus.errors import SeriesConflict
from tests.conftest import SYDNEY, sydney
from tests.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    ClinicFactory,
    ClinicianFactory,
    PatientFactory,
    TimeOffFactory,
    WorkingHoursFactory,
)

# Mondays just before Sydney's clocks go back (4 April 2032) and forward (3 October 2032),
# and one far from either.
FIRST_MONDAYS = [date(2032, 3, 29), date(2032, 9, 27), date(2032, 6, 7)]
quarter_hours = st.integers(min_value=7 * 4, max_value=19 * 4)  # 07:00 to 19:00
existing = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 4), quarter_hours, st.sampled_from([15, 30, 60])),
    max_size=12,
)  # (week, weekday, start quarter-hour, minutes)
time_off = st.lists(st.tuples(st.integers(0, 9), st.integers(0, 4)), max_size=3)  # whole days
rules = st.one_of(
    st.builds(
        lambda n, c: SeriesRule(every_weeks=n, count=c), st.integers(1, 3), st.integers(1, 8)
    ),
    st.builds(
        lambda n, w: SeriesRule(every_weeks=n, until=date(2032, 1, 1) + timedelta(weeks=w)),
        st.integers(1, 3),
        st.integers(0, 10),
    ),
)


class SeriesPropertyTests(TestCase):
    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        first_monday=st.sampled_from(FIRST_MONDAYS),
        weekday=st.integers(0, 4),
        start_quarter=quarter_hours,
        minutes=st.sampled_from([30, 45, 60]),
        rule=rules,
        booked=existing,
        away=time_off,
        override=st.booleans(),
    )
    def test_a_skipping_series_books_only_free_times_at_the_same_local_time(
        self, first_monday, weekday, start_quarter, minutes, rule, booked, away, override
    ):
        clinic = ClinicFactory(name="Property clinic", timezone="Australia/Sydney")
        clinician = ClinicianFactory(clinics=[clinic])
        for day in range(5):
            WorkingHoursFactory(
                clinician=clinician, clinic=clinic, weekday=day, start_time=time(8, 0)
            )
        kind = AppointmentTypeFactory(name="Course visit", duration_minutes=minutes)
        taken: list[tuple] = []
        for week, day, quarter, length in booked:
            begins = sydney(first_monday + timedelta(weeks=week, days=day), 0) + timedelta(
                minutes=15 * quarter
            )
            ends = begins + timedelta(minutes=length)
            if any(s < ends and begins < e for s, e in taken):
                continue  # the clinician's existing diary has no overlaps either
            taken.append((begins, ends))
            AppointmentFactory(
                clinician=clinician,
                clinic=clinic,
                appointment_type=AppointmentTypeFactory(duration_minutes=length),
                start=begins,
            )
        for week, day in away:
            off = sydney(first_monday + timedelta(weeks=week, days=day), 0)
            TimeOffFactory(clinician=clinician, start=off, end=off + timedelta(hours=23))
        first_day = first_monday + timedelta(days=weekday)
        start = sydney(first_day, 0) + timedelta(minutes=15 * start_quarter)
        if rule.until is not None:
            rule = SeriesRule(
                every_weeks=rule.every_weeks, until=first_day + (rule.until - date(2032, 1, 1))
            )
        patient = PatientFactory()
        preview = series_preview(
            clinician=clinician,
            clinic=clinic,
            appointment_type=kind,
            start=start,
            rule=rule,
            override_working_hours=override,
        )

        try:
            series = appointment_series_book(
                patient=patient,
                clinician=clinician,
                clinic=clinic,
                appointment_type=kind,
                start=start,
                rule=rule,
                skip_conflicts=True,
                override_working_hours=override,
            )
        except SeriesConflict:
            series = None

        ours = list(Appointment.objects.filter(patient=patient).order_by("start"))
        # Exactly the times the preview called free were booked, and nothing else.
        assert [a.start for a in ours] == [o.start for o in preview if o.conflict is None]
        assert (series is None) == (ours == [])
        # No two active appointments of the clinician overlap.
        active = Appointment.objects.filter(
            clinician=clinician, status__in=Appointment.ACTIVE_STATUSES
        ).order_by("start")
        for earlier, later in itertools.pairwise(active):
            assert earlier.end <= later.start, (earlier, later)
        for appointment in ours:
            local = appointment.start.astimezone(SYDNEY)
            # Same weekday and wall-clock time as the first, whatever the UTC offset.
            assert (local.weekday(), local.time()) == (first_day.weekday(), start.time())
            assert (local.date() - first_day).days % (7 * rule.every_weeks) == 0
            if not override:
                assert within_working_hours(
                    clinician=clinician, clinic=clinic, start=appointment.start, end=appointment.end
                )
        # And every time left out had a reason the booking service would also give.
        for skipped in (o for o in preview if o.conflict == "outside_working_hours"):
            assert not within_working_hours(
                clinician=clinician, clinic=clinic, start=skipped.start, end=skipped.end
            )
