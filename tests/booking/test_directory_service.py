"""The directory's "Next available" times: for the service the patient chose, never silently
the shortest one, and each time names its clinic (issue 10.9)."""

import re
from datetime import time, timedelta
from html import unescape
from urllib.parse import unquote

import pytest
from django.test import Client
from django.utils import timezone

from nexus.dates import parse_aware_datetime
from tests.factories import (
    AppointmentTypeFactory,
    ClinicFactory,
    ClinicianFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_services(db):
    clinic = ClinicFactory(name="Parramatta", timezone="Australia/Sydney")
    clinician = ClinicianFactory(clinics=[clinic], listed_publicly=True, given_name="Mei")
    for weekday in range(7):  # 09:00-10:00: four 15-minute reviews fit, but one hour-long consult
        WorkingHoursFactory(
            clinician=clinician,
            clinic=clinic,
            weekday=weekday,
            start_time=time(9),
            end_time=time(10),
        )
    review = AppointmentTypeFactory(name="Review", duration_minutes=15, bookable_online=True)
    consult = AppointmentTypeFactory(
        name="Initial consult", duration_minutes=60, bookable_online=True
    )
    return clinician, clinic, review, consult


def slot_links(html: str) -> list[str]:
    return re.findall(r'class="button slot" href="([^"]+)"', html)


def test_without_a_service_the_directory_asks_for_one_instead_of_booking_the_shortest(
    client: Client, two_services
):
    page = client.get("/book/").content.decode()

    assert slot_links(page) == []
    assert "Choose a service above to see the next available times." in page
    assert '<option value="">Choose a service</option>' in page


def test_the_chosen_service_gives_times_it_fits_and_each_names_its_clinic(
    client: Client, two_services
):
    _, clinic, _, consult = two_services

    page = client.get("/book/", {"type": consult.pk}).content.decode()

    links = slot_links(page)
    assert links and all(f"type={consult.pk}&amp;" in link for link in links)
    assert "Next available for Initial consult" in page
    # One hour-long consult a day fits in 09:00-10:00, so each time is 9:00 AM.
    times = re.findall(r"(\d+:\d\d [AP]M) <span class=\"slot-clinic\">· ([^<]+)</span>", page)
    assert times and all(t == ("9:00 AM", clinic.name) for t in times)


def test_the_directory_offers_only_times_past_the_minimum_notice(
    client: Client, two_services, settings
):
    # Given three days' notice, so today's and the next two days' 9:00 AM are too soon
    # whatever the hour the test runs (the directory listed them, and a click said "too soon")
    settings.NEXUS_BOOKING_MIN_NOTICE_MINUTES = 3 * 24 * 60
    _, _, _, consult = two_services

    page = client.get("/book/", {"type": consult.pk}).content.decode()

    links = [unescape(link) for link in slot_links(page)]
    starts = [
        parse_aware_datetime(unquote(s)) for s in re.findall(r"start=([^&]+)", "&".join(links))
    ]
    earliest = timezone.now() + timedelta(days=3)
    assert len(starts) == 3 and all(start > earliest for start in starts)
    # And the first one can be chosen: it opens the details form, not "too soon"
    chosen = client.get(links[0])
    assert chosen.status_code == 200 and "too soon" not in chosen.content.decode()


def test_the_details_form_tells_browsers_and_phones_what_each_field_is(client: Client):
    from booking.forms import PatientDetailsForm

    html = str(PatientDetailsForm())

    for attribute in (
        'autocomplete="given-name"',
        'autocomplete="family-name"',
        'autocomplete="bday"',
        'inputmode="numeric"',
        'autocomplete="tel"',
        'inputmode="tel"',
        'autocomplete="email"',
        'type="email"',
    ):
        assert attribute in html, attribute
