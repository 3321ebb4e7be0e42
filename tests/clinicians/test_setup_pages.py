"""Practice setup pages: admins manage clinicians, their hours and leave, and the
appointment types; nobody else can."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from appointments.models import AppointmentType
from clinicians.models import Clinician, TimeOff, WorkingHours
from tests.conftest import signed_in
from tests.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    ClinicFactory,
    ClinicianFactory,
    DisciplineFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db

PERTH = ZoneInfo("Australia/Perth")


@pytest.fixture
def admin(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def _hours(rows: list[dict], initial: int = 0) -> dict:
    data = {
        "hours-TOTAL_FORMS": str(len(rows)),
        "hours-INITIAL_FORMS": str(initial),
        "hours-MIN_NUM_FORMS": "0",
        "hours-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"hours-{i}-{name}": value for name, value in row.items()})
    return data


def _profile(**fields) -> dict:
    return {
        "given_name": "Mei",
        "family_name": "Chen",
        "accepting_new_patients": "on",
        "is_active": "on",
        **fields,
    }


@pytest.mark.parametrize("role", ["reception", "clinician"])
@pytest.mark.parametrize(
    "url", ["/setup/clinicians/", "/setup/clinicians/new/", "/setup/appointment-types/new/"]
)
def test_only_admins_reach_the_setup_pages(role, url):
    client = signed_in(role)
    before = Clinician.objects.count(), AppointmentType.objects.count()

    assert client.get(url).status_code == 403
    # The list takes no POST at all (405); the forms refuse it (403).
    assert client.post(url, {"given_name": "X", "name": "X"}).status_code in {403, 405}
    assert (Clinician.objects.count(), AppointmentType.objects.count()) == before


@pytest.mark.parametrize("role", ["reception", "clinician"])
def test_only_admins_add_or_remove_time_off_here(role):
    clinician = ClinicianFactory(clinics=[ClinicFactory()])
    start = datetime(2031, 3, 10, 9, tzinfo=PERTH)
    leave = TimeOff.objects.create(clinician=clinician, start=start, end=start + timedelta(hours=2))
    client = signed_in(role)

    added = client.post(
        f"/setup/clinicians/{clinician.pk}/time-off/",
        {"start": "2031-03-11T09:00", "end": "2031-03-11T13:00"},
    )
    removed = client.post(f"/setup/clinicians/time-off/{leave.pk}/delete/")

    assert (added.status_code, removed.status_code) == (403, 403)
    assert list(TimeOff.objects.all()) == [leave]


def test_an_admin_adds_a_clinician_with_their_week(admin):
    clinic = ClinicFactory(name="Fremantle", timezone="Australia/Perth")
    physio = DisciplineFactory(name="Physiotherapy")
    data = _profile(clinics=[clinic.pk], disciplines=[physio.pk], listed_publicly="on")
    data |= _hours(
        [
            {"clinic": clinic.pk, "weekday": 0, "start_time": "08:00", "end_time": "12:00"},
            {"clinic": clinic.pk, "weekday": 0, "start_time": "13:00", "end_time": "17:30"},
            {"clinic": "", "weekday": "", "start_time": "", "end_time": ""},  # spare row
        ]
    )

    response = admin.post("/setup/clinicians/new/", data)

    clinician = Clinician.objects.get(family_name="Chen")
    assert response.status_code == 302
    assert response["Location"] == f"/setup/clinicians/{clinician.pk}/"
    assert clinician.listed_publicly
    assert list(clinician.disciplines.all()) == [physio]
    hours = [(h.weekday, h.start_time, h.end_time) for h in clinician.working_hours.all()]
    assert hours == [(0, time(8), time(12)), (0, time(13), time(17, 30))]
    # Listed publicly, so patients find her online.
    assert "Mei Chen" in Client().get("/book/").content.decode()


def test_overlapping_hours_are_refused_and_nothing_is_saved(admin):
    clinic = ClinicFactory()
    data = _profile(clinics=[clinic.pk]) | _hours(
        [
            {"clinic": clinic.pk, "weekday": 2, "start_time": "09:00", "end_time": "13:00"},
            {"clinic": clinic.pk, "weekday": 2, "start_time": "12:30", "end_time": "17:00"},
        ]
    )

    response = admin.post("/setup/clinicians/new/", data)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was saved" in page
    assert "Overlaps Wednesday 09:00 to 13:00." in page
    assert not Clinician.objects.exists()
    assert not WorkingHours.objects.exists()


def test_hours_must_be_at_a_clinic_the_clinician_works_at(admin):
    home, elsewhere = ClinicFactory(name="Home"), ClinicFactory(name="Elsewhere")
    data = _profile(clinics=[home.pk]) | _hours(
        [{"clinic": elsewhere.pk, "weekday": 1, "start_time": "09:00", "end_time": "17:00"}]
    )

    response = admin.post("/setup/clinicians/new/", data)

    assert "Tick this clinic above first" in response.content.decode()
    assert not Clinician.objects.exists()


def test_hours_ending_before_they_start_get_a_clear_message(admin):
    clinic = ClinicFactory()
    data = _profile(clinics=[clinic.pk]) | _hours(
        [{"clinic": clinic.pk, "weekday": 1, "start_time": "17:00", "end_time": "09:00"}]
    )

    response = admin.post("/setup/clinicians/new/", data)

    assert "Working hours must end after they start." in response.content.decode()
    assert not Clinician.objects.exists()


def test_an_admin_edits_and_removes_hours(admin):
    clinic = ClinicFactory()
    clinician = ClinicianFactory(clinics=[clinic], given_name="Ola")
    monday = WorkingHoursFactory(clinician=clinician, clinic=clinic, weekday=0)
    tuesday = WorkingHoursFactory(clinician=clinician, clinic=clinic, weekday=1)
    data = _profile(clinics=[clinic.pk], given_name="Ola", is_active="") | _hours(
        [
            {
                "id": monday.pk,
                "clinic": clinic.pk,
                "weekday": 0,
                "start_time": "10:00",
                "end_time": "15:00",
            },
            {
                "id": tuesday.pk,
                "clinic": clinic.pk,
                "weekday": 1,
                "start_time": "09:00",
                "end_time": "17:00",
                "DELETE": "on",
            },
        ],
        initial=2,
    )

    response = admin.post(f"/setup/clinicians/{clinician.pk}/", data)

    assert response.status_code == 302
    clinician.refresh_from_db()
    assert not clinician.is_active
    assert [(h.weekday, h.start_time) for h in clinician.working_hours.all()] == [(0, time(10))]


def test_time_off_is_entered_in_the_clinics_own_time(admin):
    perth = ClinicFactory(name="Perth", timezone="Australia/Perth")
    clinician = ClinicianFactory(clinics=[perth])

    response = admin.post(
        f"/setup/clinicians/{clinician.pk}/time-off/",
        {
            "clinic": perth.pk,
            "start": "2031-03-10T09:00",
            "end": "2031-03-10T13:00",
            "reason": "Course",
        },
    )

    assert response.status_code == 302
    leave = TimeOff.objects.get(clinician=clinician)
    assert leave.start == datetime(2031, 3, 10, 9, tzinfo=PERTH)
    assert leave.end == datetime(2031, 3, 10, 13, tzinfo=PERTH)
    page = admin.get(f"/setup/clinicians/{clinician.pk}/").content.decode()
    assert "Mon 10 Mar 2031, 09:00" in page
    assert "Mon 10 Mar 2031, 13:00" in page


def test_leave_over_booked_appointments_warns_the_admin(admin):
    clinic = ClinicFactory(timezone="Australia/Sydney")
    clinician = ClinicianFactory(clinics=[clinic])
    start = datetime(2031, 3, 10, 10, tzinfo=ZoneInfo("Australia/Sydney"))
    AppointmentFactory(clinician=clinician, clinic=clinic, start=start)

    response = admin.post(
        f"/setup/clinicians/{clinician.pk}/time-off/",
        {"start": "2031-03-10T09:00", "end": "2031-03-10T17:00", "reason": "Sick"},
        follow=True,
    )

    assert "1 booked appointment fall in it" in response.content.decode()
    assert TimeOff.objects.get(clinician=clinician).clinic is None


def test_bad_time_off_is_refused_with_the_reason(admin):
    clinician = ClinicianFactory(clinics=[ClinicFactory()])

    response = admin.post(
        f"/setup/clinicians/{clinician.pk}/time-off/",
        {"start": "2031-03-10T13:00", "end": "2031-03-10T09:00"},
    )

    assert response.status_code == 400
    assert "Time off must end after it starts." in response.content.decode()
    assert not TimeOff.objects.exists()


def test_an_admin_removes_time_off(admin):
    clinician = ClinicianFactory(clinics=[ClinicFactory()])
    start = datetime(2031, 3, 10, 9, tzinfo=PERTH)
    leave = TimeOff.objects.create(clinician=clinician, start=start, end=start + timedelta(hours=2))

    response = admin.post(
        f"/setup/time-off/{leave.pk}/delete/".replace("/setup/", "/setup/clinicians/")
    )

    assert response.status_code == 302
    assert not TimeOff.objects.exists()


def test_the_clinician_list_runs_a_fixed_number_of_queries(admin):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin.get("/setup/clinicians/").status_code == 200
        return len(ctx)

    admin.get("/setup/clinicians/")  # Warm the session and permission caches.
    clinic = ClinicFactory()
    for _ in range(3):
        WorkingHoursFactory(clinician=ClinicianFactory(clinics=[clinic]), clinic=clinic)
    few = count()
    for _ in range(12):
        WorkingHoursFactory(clinician=ClinicianFactory(clinics=[clinic]), clinic=clinic)

    assert count() == few <= 7


def test_an_admin_adds_and_edits_appointment_types(admin):
    response = admin.post(
        "/setup/appointment-types/new/",
        {
            "name": "Hydrotherapy",
            "duration_minutes": "45",
            "colour": "#0e7490",
            "price": "120.00",
            "bookable_online": "on",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    kind = AppointmentType.objects.get(name="Hydrotherapy")
    assert (kind.duration_minutes, kind.bookable_online) == (45, True)

    admin.post(
        f"/setup/appointment-types/{kind.pk}/",
        {"name": "Hydrotherapy", "duration_minutes": "60", "colour": "#0e7490", "price": "150"},
    )
    kind.refresh_from_db()
    assert (kind.duration_minutes, kind.bookable_online, kind.is_active) == (60, False, False)
    assert "Hydrotherapy" in admin.get("/setup/appointment-types/").content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("duration_minutes", "0", "greater than or equal to 5"),
        ("colour", "red", "Use a hex colour such as #3b82f6."),
        ("price", "-5", "greater than or equal to 0"),
        ("name", "Taken", "already exists"),
    ],
)
def test_bad_appointment_types_are_refused(admin, field, value, message):
    AppointmentTypeFactory(name="Taken")
    data = {"name": "New", "duration_minutes": "30", "colour": "#0e7490", "price": "0"}

    response = admin.post("/setup/appointment-types/new/", data | {field: value})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert AppointmentType.objects.count() == 1
