"""What a calendar page costs: a fixed number of queries whatever the number of
appointments, and a bounded page size (issue 16). Counts and bytes, never timings."""

from datetime import timedelta

import pytest
from django.test import Client

from tests.conftest import MONDAY, sydney
from tests.factories import (
    AppointmentFactory,
    ClinicianFactory,
    PatientFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db

# The day view of three clinicians with their days booked full (09:00-17:00 in half hours),
# and the week view of one with 12 appointments a day (fewer than SQLite's 66-row batch
# for the audit rows, which would add a query there), as measured when these were set.
# A page read again before anything changed takes its clinicians, working hours, time off,
# free times and types from the cache (appointments/calendar_cache.py); the first request
# after a booking computes that clinician's grid again (CHANGED_QUERIES).
DAY_QUERIES, DAY_BYTES = 3, 38_000  # 34.8 kB measured
WEEK_QUERIES, WEEK_BYTES = 3, 64_000  # 59.8 kB measured
CHANGED_QUERIES = 7


@pytest.fixture
def three(practice):
    """The practice's clinician and two more, working the same weekday hours."""
    clinicians = [practice.clinician]
    for name in ("Brown", "Chen"):
        other = ClinicianFactory(clinics=[practice.clinic], family_name=name)
        for weekday in range(5):
            WorkingHoursFactory(clinician=other, clinic=practice.clinic, weekday=weekday)
        clinicians.append(other)
    return clinicians


def book(practice, clinician, day, slots):
    for slot in slots:
        AppointmentFactory(
            patient=PatientFactory(alerts="Latex allergy" if slot % 4 == 0 else ""),
            clinician=clinician,
            clinic=practice.clinic,
            appointment_type=practice.consult,
            start=sydney(day, 9) + timedelta(minutes=30 * slot),
        )


def measure(client: Client, url: str, assert_max_num_queries, limit: int, *, changed=False):
    """Queries and bytes of a page read again; `changed`: the first read after bookings is
    within CHANGED_QUERIES too."""
    if changed:
        with assert_max_num_queries(CHANGED_QUERIES):
            client.get(url)
    else:
        client.get(url)  # warm the session and the clinic remembered in it
    with assert_max_num_queries(limit) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), len(response.content)


def test_the_day_view_of_three_clinicians_costs_the_same_queries_however_full(
    desk, practice, three, django_assert_max_num_queries
):
    url = f"/calendar/?clinic={practice.clinic.pk}&date={MONDAY}&view=day" + "".join(
        f"&clinician={c.pk}" for c in three
    )
    book(practice, three[0], MONDAY, [0])
    few, _ = measure(desk, url, django_assert_max_num_queries, DAY_QUERIES)

    for clinician in three:
        book(practice, clinician, MONDAY, range(1 if clinician == three[0] else 0, 16))
    full, size = measure(desk, url, django_assert_max_num_queries, DAY_QUERIES, changed=True)

    assert full == few
    assert size <= DAY_BYTES


def test_the_week_view_of_one_clinician_costs_the_same_queries_however_full(
    desk, practice, django_assert_max_num_queries
):
    url = (
        f"/calendar/?clinic={practice.clinic.pk}&date={MONDAY}&view=week"
        f"&clinician={practice.clinician.pk}"
    )
    book(practice, practice.clinician, MONDAY, [0])
    few, _ = measure(desk, url, django_assert_max_num_queries, WEEK_QUERIES)

    for day in range(5):
        book(
            practice,
            practice.clinician,
            MONDAY + timedelta(days=day),
            range(1 if day == 0 else 0, 12),
        )
    full, size = measure(desk, url, django_assert_max_num_queries, WEEK_QUERIES, changed=True)

    assert full == few
    assert size <= WEEK_BYTES
