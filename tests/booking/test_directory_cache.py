"""The directory's next times are cached per clinician (booking/next_times.py), and every
change that moves a clinician's free time shows on the next visit: a booking by any route,
a cancellation, a hold, time off, working hours, a series, a waitlist YES, and the clock
(a time inside the minimum notice, a hold that lapses). Whatever the number of listed
clinicians, the page costs the same few queries (issue 16)."""

import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, unquote

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from appointments.models import Appointment, SlotHold
from appointments.recurrence import SeriesRule
from appointments.series import appointment_series_book
from appointments.services import appointment_book, appointment_cancel
from booking.next_times import cached_slots_until
from clinicians.models import WorkingHours
from clinicians.services import time_off_remove
from nexus.dates import parse_aware_datetime
from tests.booking.test_online_booking import DETAILS
from tests.conftest import Practice
from tests.factories import (
    ClinicianFactory,
    PatientFactory,
    TimeOffFactory,
    WorkingHoursFactory,
)
from waitlist.services import waitlist_entry_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def online(practice: Practice) -> Practice:
    """The practice's clinician listed, working every day, and its consult bookable online."""
    practice.clinician.listed_publicly = True
    practice.clinician.save()
    for weekday in (5, 6):
        WorkingHoursFactory(clinician=practice.clinician, clinic=practice.clinic, weekday=weekday)
    practice.consult.bookable_online = True
    practice.consult.save()
    return practice


def offered(practice: Practice, client: Client | None = None) -> list[datetime]:
    """The directory's next times for the practice's consult, as moments."""
    page = (client or Client()).get("/book/", {"type": practice.consult.pk})
    assert page.status_code == 200
    links = re.findall(r'class="button slot" href="([^"]+)"', page.content.decode())
    starts = [parse_qs(link.replace("&amp;", "&").partition("?")[2])["start"][0] for link in links]
    return [parse_aware_datetime(unquote(start)) for start in starts]  # type: ignore[misc]


def first_free(practice: Practice) -> datetime:
    times = offered(practice)
    assert len(times) == 3
    return times[0]


def book_first_free(practice: Practice, patient):  # type: ignore[no-untyped-def]
    """Reception books the first time the directory offers."""
    first = first_free(practice)
    appointment = appointment_book(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=first,
        notify=False,
    )
    return first, appointment


def test_a_staff_booking_through_the_api_takes_the_time_off_the_directory(
    online, reception_api, patient
):
    first = first_free(online)

    response = reception_api.post(
        "/api/v1/appointments/",
        {
            "patient": patient.pk,
            "clinician": online.clinician.pk,
            "clinic": online.clinic.pk,
            "appointment_type": online.consult.pk,
            "start": first.isoformat(),
        },
        format="json",
    )

    assert response.status_code == 201
    assert first not in offered(online)


def test_a_booking_from_the_calendar_panel_takes_the_time_off_the_directory(online, desk, patient):
    first = first_free(online)
    local = timezone.localtime(first, online.clinic.tz)

    response = desk.post(
        "/calendar/book/",
        {
            "patient": patient.pk,
            "clinician": online.clinician.pk,
            "clinic": online.clinic.pk,
            "appointment_type": online.consult.pk,
            "date": local.date().isoformat(),
            "time": local.strftime("%H:%M"),
        },
    )

    assert response.status_code in (200, 204, 302)
    assert Appointment.objects.filter(start=first).exists()
    assert first not in offered(online)


def test_choosing_a_time_online_holds_it_and_booking_it_keeps_it_taken(online):
    visitor = Client()
    first = first_free(online)
    link = f"/book/{online.clinician.pk}/details/"
    slot = {"type": online.consult.pk, "clinic": online.clinic.pk, "start": first.isoformat()}

    held = visitor.get(link, slot)
    while_held = offered(online)
    booked = visitor.post(
        link,
        {**slot, **DETAILS},
    )

    assert held.status_code == 200
    assert first not in while_held
    assert booked.status_code == 302
    assert Appointment.objects.filter(start=first).exists()
    assert first not in offered(online)


def test_a_cancellation_offers_the_time_again(online, patient):
    first, appointment = book_first_free(online, patient)
    assert first not in offered(online)

    appointment_cancel(appointment=appointment, reason="Unwell")

    assert first in offered(online)


def test_a_move_to_another_clinician_frees_the_first_ones_time(online, reception_api, patient):
    other = ClinicianFactory(clinics=[online.clinic], listed_publicly=False)
    for weekday in range(7):
        WorkingHoursFactory(clinician=other, clinic=online.clinic, weekday=weekday)
    first, appointment = book_first_free(online, patient)
    assert first not in offered(online)

    moved = reception_api.patch(
        f"/api/v1/appointments/{appointment.pk}/", {"clinician": other.pk}, format="json"
    )

    assert moved.status_code == 200
    assert first in offered(online)


def test_time_off_takes_its_times_away_and_removing_it_gives_them_back(online):
    first = first_free(online)

    leave = TimeOffFactory(
        clinician=online.clinician, start=first - timedelta(days=1), end=first + timedelta(days=1)
    )
    during = offered(online)
    time_off_remove(leave=leave)

    assert first not in during
    assert during and min(during) >= first + timedelta(days=1)
    assert first in offered(online)


def test_changed_working_hours_show_at_once(online):
    first = first_free(online)
    local = timezone.localtime(first, online.clinic.tz)
    hours = WorkingHours.objects.get(clinician=online.clinician, weekday=local.weekday())

    hours.start_time = (local + online.consult.duration).time()
    hours.save()
    shorter = offered(online)
    hours.delete()

    assert first not in shorter
    assert all(
        timezone.localtime(t, online.clinic.tz).weekday() != local.weekday()
        for t in offered(online)
    )


def test_a_series_takes_its_first_time_off_the_directory(online, patient):
    first = first_free(online)

    appointment_series_book(
        patient=patient,
        clinician=online.clinician,
        clinic=online.clinic,
        appointment_type=online.consult,
        start=first,
        rule=SeriesRule(every_weeks=1, count=2),
    )

    assert first not in offered(online)


def test_a_waitlist_yes_takes_the_offered_time_off_the_directory(
    online, settings, django_capture_on_commit_callbacks
):
    settings.NEXUS_SMS_WEBHOOK_SECRET = secret = "s3cret-webhook-token-0123456789abcdef"
    first = first_free(online)
    local = timezone.localtime(first, online.clinic.tz)
    booked = appointment_book(
        patient=PatientFactory(),
        clinician=online.clinician,
        clinic=online.clinic,
        appointment_type=online.consult,
        start=first,
        notify=False,
    )
    entry = waitlist_entry_add(
        patient=PatientFactory(sms_consent=True),
        clinician=online.clinician,
        clinics=[online.clinic],
        appointment_type=online.consult,
        days=[local.weekday()],
        earliest=local.time().replace(hour=0),
        latest=local.time().replace(hour=23),
    )
    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(appointment=booked, reason="Unwell")
    offer = entry.offers.get()
    assert first in offered(online)

    with django_capture_on_commit_callbacks(execute=True):
        reply = Client().get(
            f"/webhooks/sms/inbound/{secret}/",
            {
                "to": "61400000000",
                "from": offer.message.to.lstrip("+"),
                "message": "YES",
                "ref": str(offer.message.pk),
            },
        )

    assert reply.status_code == 200
    entry.refresh_from_db()
    assert entry.status == "booked"
    assert first not in offered(online)


def test_a_time_inside_the_minimum_notice_is_not_offered_from_the_cache(online):
    # Given an answer cached a while ago
    today = timezone.localdate()
    ask = {
        "clinician_ids": [online.clinician.pk],
        "appointment_type": online.consult,
        "start_date": today,
        "end_date": today + timedelta(days=14),
        "clinics": {online.clinic.pk: online.clinic},
        "limit": 3,
    }
    earlier = cached_slots_until(earliest=timezone.now(), **ask)[0][online.clinician.pk]

    # When the first of its times has come inside the notice
    later = cached_slots_until(earliest=earlier[0].start + timedelta(seconds=1), **ask)[0]

    # Then it is not offered, and the next one takes its place
    starts = [slot.start for slot in later[online.clinician.pk]]
    assert earlier[0].start not in starts
    assert starts[:2] == [slot.start for slot in earlier[1:]]
    assert len(starts) == 3


def test_a_lapsed_hold_frees_its_time_without_any_write(online, monkeypatch):
    first = first_free(online)
    now = timezone.now()
    SlotHold.objects.create(
        key="k" * 40,
        clinician=online.clinician,
        clinic=online.clinic,
        appointment_type=online.consult,
        start=first,
        end=first + online.consult.duration,
        expires_at=now + timedelta(minutes=5),
    )
    assert first not in offered(online)

    # Ten minutes on, nobody has written anything; the hold has lapsed.
    later = now + timedelta(minutes=10)
    monkeypatch.setattr("appointments.holds._now", lambda: later)
    monkeypatch.setattr("booking.next_times.time.time", lambda: later.timestamp())

    assert first in offered(online)


def listed_clinicians(practice: Practice, n: int) -> None:
    for _ in range(n - 1):
        clinician = ClinicianFactory(clinics=[practice.clinic], listed_publicly=True)
        for weekday in range(7):
            WorkingHoursFactory(clinician=clinician, clinic=practice.clinic, weekday=weekday)


def directory_queries(practice: Practice) -> tuple[int, int, int]:
    """Queries of a first visit (nothing cached) and a second, and the page's size."""
    client = Client()
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            page = client.get("/book/", {"type": practice.consult.pk})
        assert page.status_code == 200
        counts.append(len(queries))
    return counts[0], counts[1], len(page.content)


@pytest.mark.parametrize("n", [3, 30])
def test_the_directory_costs_the_same_queries_for_3_or_30_clinicians(online, n):
    listed_clinicians(online, n)

    cold, warm, size = directory_queries(online)

    assert warm <= 5
    # Nothing cached: the offer (3), the clinicians' cards (3), the engine (3) and the holds
    # (1), each once for all of them.
    assert cold <= warm + 10
    assert len(offered(online)) == 3 * n
    # A guard on the page's weight: about 1 KB a clinician with their three times.
    assert size < 4_000 + 1_200 * n


def test_the_clinician_page_reads_its_week_from_the_cache(online):
    client = Client()
    url = f"/book/{online.clinician.pk}/?type={online.consult.pk}&week=1"
    client.get(url)

    with CaptureQueriesContext(connection) as queries:
        page = client.get(url)

    assert page.status_code == 200
    assert len(queries) <= 3
    assert page.content.count(b'class="button slot"') == 7 * 31  # 09:00 to 16:30, every 15 minutes
    assert len(page.content) < 60_000


def clinician_page_times(practice: Practice) -> list[datetime]:
    page = Client().get(f"/book/{practice.clinician.pk}/", {"type": practice.consult.pk})
    assert page.status_code == 200
    links = re.findall(r'class="button slot" href="([^"]+)"', page.content.decode())
    starts = [parse_qs(link.replace("&amp;", "&").partition("?")[2])["start"][0] for link in links]
    return [parse_aware_datetime(unquote(start)) for start in starts]  # type: ignore[misc]


def test_the_clinician_page_shows_a_booking_on_the_next_visit(online, patient):
    # Given the clinician's week, seen once (and so kept)
    first = clinician_page_times(online)[0]

    # When reception books its first time
    appointment = appointment_book(
        patient=patient,
        clinician=online.clinician,
        clinic=online.clinic,
        appointment_type=online.consult,
        start=first,
        notify=False,
    )

    # Then the next visitor is not offered it, and is again once it is cancelled
    assert first not in clinician_page_times(online)
    appointment_cancel(appointment=appointment, reason="Unwell")
    assert first in clinician_page_times(online)


def test_a_kept_page_drops_a_time_that_comes_inside_the_notice(online, settings, monkeypatch):
    def clock(moment: datetime) -> None:
        monkeypatch.setattr("django.utils.timezone.now", lambda: moment)
        monkeypatch.setattr("booking.next_times.time.time", lambda: moment.timestamp())

    # Given both public pages seen five minutes before the first free time comes inside the
    # notice (the same day: a working day starts at 09:00; within the entries' lifetime)
    first = first_free(online)
    notice = timedelta(minutes=settings.NEXUS_BOOKING_MIN_NOTICE_MINUTES)
    clock(first - notice - timedelta(minutes=5))
    assert offered(online)[0] == first
    assert clinician_page_times(online)[0] == first

    # When the clock reaches that time's minimum notice, nobody having written anything
    clock(first - notice + timedelta(seconds=1))

    # Then neither page offers it any longer, and the directory offers the next one instead
    assert first not in offered(online)
    assert len(offered(online)) == 3
    assert first not in clinician_page_times(online)


def test_a_clinician_listed_or_unlisted_shows_on_the_next_visit(online):
    # Given the directory and the clinician's page, seen once
    assert Client().get("/book/").content.count(b"directory-card") == 1
    assert Client().get(f"/book/{online.clinician.pk}/").status_code == 200

    # When another clinician is listed and the first is not any longer
    ClinicianFactory(clinics=[online.clinic], listed_publicly=True, family_name="Zed")
    online.clinician.listed_publicly = False
    online.clinician.save()

    # Then the next visitors see just that
    directory = Client().get("/book/").content.decode()
    assert directory.count("directory-card") == 1
    assert "Zed" in directory
    assert Client().get(f"/book/{online.clinician.pk}/").status_code == 404
