"""Every appointment time is shown in its clinic's zone, on every page, whatever the
server's zone (Sydney): a Perth appointment at 9:45 reads 9:45, never 12:45 (issue 10.1)."""

import re
from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import timezone

from appointments.models import Appointment
from nexus.templatetags.zones import UnzonedDatetimeError
from tests.conftest import signed_in
from tests.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    ClinicFactory,
    ClinicianFactory,
    PatientFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db

PERTH, SYDNEY = "Australia/Perth", "Australia/Sydney"
# Sydney's clocks go back an hour at 3 am on 4 April 2032 and forward on 3 October 2032.
DST_ENDS, DST_STARTS = date(2032, 4, 4), date(2032, 10, 3)
SUMMER_DAY = date(2032, 3, 3)  # AEDT (+11) in Sydney, AWST (+8) in Perth: three hours apart

zones = pytest.mark.parametrize(
    ("zone", "label"), [(PERTH, "Perth time (AWST)"), (SYDNEY, "Sydney time (AEDT)")]
)


def at(zone: str, day: date, hour: int = 9, minute: int = 45) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone))


def booked_at(zone: str, start: datetime, **fields) -> Appointment:
    clinic = ClinicFactory(name=f"{zone} clinic", timezone=zone)
    clinician = ClinicianFactory(clinics=[clinic], given_name="Mei", family_name="Wang")
    WorkingHoursFactory(clinician=clinician, clinic=clinic, weekday=start.weekday())
    return AppointmentFactory(
        clinic=clinic,
        clinician=clinician,
        patient=PatientFactory(given_name="Ada", family_name="Lovelace"),
        appointment_type=AppointmentTypeFactory(name="Consult", duration_minutes=30),
        start=start,
        **fields,
    )


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", response.content.decode())


# Staff pages ---------------------------------------------------------------------------


@zones
def test_the_calendar_block_its_panel_and_the_reschedule_form_use_the_clinics_zone(zone, label):
    appointment = booked_at(zone, at(zone, SUMMER_DAY))
    client = signed_in("reception")

    calendar = text(client.get("/calendar/", {"clinic": appointment.clinic_id, "date": SUMMER_DAY}))
    panel = text(client.get(f"/calendar/appointments/{appointment.pk}/"))

    assert "<span>9:45 Consult</span>" in calendar
    assert "12:45 Consult" not in calendar
    # The first free time after the 30-minute appointment, labelled in the clinic's zone.
    assert 'aria-label="Book Mei Wang at 10:15 AM Wed 3 Mar"' in calendar
    assert "Wednesday 3 March 2032, 9:45 AM\u201310:15 AM" in panel
    assert 'name="time" value="09:45"' in panel
    assert "12:45" not in panel


@zones
def test_the_dashboard_shows_todays_times_in_the_clinics_zone(zone, label):
    clinic_today = timezone.localdate(timezone=ZoneInfo(zone))
    appointment = booked_at(zone, at(zone, clinic_today), status="arrived")

    page = text(signed_in("reception").get("/", {"clinic": appointment.clinic_id}))

    assert page.count("9:45 AM") == 2  # today's list and the arrived list
    assert "12:45" not in page and "11:45" not in page


@zones
def test_the_chart_lists_appointments_in_their_clinics_zone(zone, label):
    appointment = booked_at(zone, at(zone, SUMMER_DAY))

    page = text(signed_in("reception").get(f"/patients/{appointment.patient_id}/"))

    assert "Wed 3 Mar 2032, 9:45 AM" in page
    assert "12:45" not in page


def test_a_chart_with_perth_and_sydney_appointments_shows_each_in_its_own_zone():
    perth = booked_at(PERTH, at(PERTH, SUMMER_DAY))
    AppointmentFactory(
        patient=perth.patient,
        clinic=ClinicFactory(name="Sydney clinic", timezone=SYDNEY),
        start=at(SYDNEY, SUMMER_DAY + timedelta(days=1), 9, 15),
    )

    page = text(signed_in("reception").get(f"/patients/{perth.patient_id}/"))

    assert "Wed 3 Mar 2032, 9:45 AM" in page and "Thu 4 Mar 2032, 9:15 AM" in page


@pytest.mark.parametrize("day", [DST_ENDS, DST_STARTS])
def test_on_the_days_sydneys_clocks_change_times_and_rows_stay_on_the_wall_clock(day):
    appointment = booked_at(SYDNEY, at(SYDNEY, day))
    client = signed_in("reception")

    response = client.get("/calendar/", {"clinic": appointment.clinic_id, "date": day})
    panel = text(client.get(f"/calendar/appointments/{appointment.pk}/"))

    assert "<span>9:45 Consult</span>" in text(response)
    # 08:00 is the first row; 9:45 is seven 15-minute rows (18 px each) below it.
    (placed,) = response.context["page"].columns[0].appointments
    assert placed.top == 7 * 18
    assert f"{day:%A} {day.day} {day:%B} 2032, 9:45 AM\u201310:15 AM" in panel
    label = appointment.zone_label
    assert label == ("Sydney time (AEST)" if day == DST_ENDS else "Sydney time (AEDT)")


# Public pages ---------------------------------------------------------------------------


@pytest.fixture
def listed_in():
    def make(zone: str):
        clinic = ClinicFactory(name=f"{zone.split('/')[1]} clinic", timezone=zone)
        clinician = ClinicianFactory(clinics=[clinic], listed_publicly=True, given_name="Mei")
        for weekday in range(7):  # one 30-minute time a day, 9:45 on the clinic's clock
            WorkingHoursFactory(
                clinician=clinician,
                clinic=clinic,
                weekday=weekday,
                start_time=time(9, 45),
                end_time=time(10, 15),
            )
        consult = AppointmentTypeFactory(
            name="Initial consult", duration_minutes=30, bookable_online=True
        )
        return clinician, clinic, consult

    return make


@zones
def test_the_directory_and_clinician_page_offer_times_on_the_clinics_clock(
    client, listed_in, zone, label
):
    clinician, clinic, _ = listed_in(zone)

    directory = text(client.get("/book/"))
    page = text(client.get(f"/book/{clinician.pk}/"))

    for html in (directory, page):
        assert "9:45 AM" in html
        assert "12:45" not in html and "11:45" not in html
        assert f'data-clinic-zone="{zone}"' in html
        assert re.search(rf"Times are {re.escape(label[:-6])}\(AW?[ES]D?T\)\.", html), html
    assert f'9:45 AM <span class="slot-clinic">· {clinic.name}</span>' in directory


@zones
def test_details_done_and_cancel_pages_say_the_time_and_zone_of_the_clinic(
    client, listed_in, zone, label
):
    clinician, clinic, consult = listed_in(zone)
    start = at(zone, SUMMER_DAY).astimezone(ZoneInfo("UTC"))  # a link may carry any offset
    query = {"type": consult.pk, "clinic": clinic.pk, "start": start.isoformat()}

    details = text(client.get(f"/book/{clinician.pk}/details/", query))
    booked = client.post(
        f"/book/{clinician.pk}/details/",
        {
            **query,
            "given_name": "Grace",
            "family_name": "Hopper",
            "date_of_birth": "1985-12-09",
            "phone": "0412 345 678",
            "email": "grace@example.com",
            "consent": "on",
        },
    )
    assert booked.status_code == 302, booked.content.decode()
    done = text(client.get(booked["Location"]))
    cancel_url = re.search(r'href="(/book/cancel/[^"]+)"', done).group(1)  # type: ignore[union-attr]
    cancel = text(client.get(cancel_url))
    cancelled = text(client.post(cancel_url))

    sentence = f'Wednesday 3 March 2032 at 9:45 AM <span class="zone">{label}</span>'
    for html in (details, done, cancel, cancelled):
        assert sentence in html
        assert "12:45" not in html
    # The form posts the time back with the clinic's offset, not Sydney's.
    posted = re.search(r'name="start" value="([^"]+)"', details).group(1)  # type: ignore[union-attr]
    assert datetime.fromisoformat(posted) == start
    assert parse_qs(f"start={posted}")


# The mechanism --------------------------------------------------------------------------


def test_a_template_that_formats_a_time_without_choosing_its_zone_fails_loudly():
    moment = datetime(2032, 3, 3, 1, 45, tzinfo=ZoneInfo("UTC"))
    appointment = booked_at(PERTH, moment)

    def render(source: str, **context) -> str:
        return Template(source).render(Context(context))

    with pytest.raises(UnzonedDatetimeError):
        render("{{ when|time:'g:i A' }}", when=moment)
    with pytest.raises(UnzonedDatetimeError):
        render("{{ a.start|date:'g:i A' }}", a=appointment)
    assert render("{{ a.local_start|time:'g:i A' }}", a=appointment) == "9:45 AM"
    assert render("{{ when|localtime|time:'g:i A' }}", when=moment) == "12:45 PM"  # Sydney
    assert render("{{ day|date:'j M' }}", day=SUMMER_DAY) == "3 Mar"  # dates have no zone
