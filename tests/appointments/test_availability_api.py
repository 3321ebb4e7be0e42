"""The availability API answers a plainly written request from one query and the cache,
written as the JSON it was cached as (clinicians/api/views.py); every other request is
read step by step. Both give the same answer, byte for byte, and the same refusals."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer

from appointments.selectors import FreeTimes, availability_subjects
from nexus.api.permissions import RolePermission
from tests.conftest import MONDAY, Practice, sydney
from tests.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    ClinicFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db

WEEK = {"start": "2032-03-01", "end": "2032-03-07"}


def ask(api: Any, practice: Practice, query: str, *, clinician: Any = None, **headers: str) -> Any:
    pk = practice.clinician.pk if clinician is None else clinician
    return api.get(f"/api/v1/clinicians/{pk}/availability/?{query}", **headers)


def week(practice: Practice, **extra: Any) -> str:
    params = {**WEEK, "appointment_type": practice.consult.pk, **extra}
    return "&".join(f"{name}={value}" for name, value in params.items())


def type_reads(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"] for q in queries.captured_queries if "appointments_appointmenttype" in q["sql"]
    ]


@pytest.fixture
def busy_practice(practice: Practice, patient: Any) -> Practice:
    """The practice with a second clinic (in Perth) on Tuesdays and a booked Monday."""
    perth = ClinicFactory(name="Perth", timezone="Australia/Perth")
    practice.clinician.clinics.add(perth)
    WorkingHoursFactory(clinician=practice.clinician, clinic=perth, weekday=1)
    AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
        end=sydney(MONDAY, 10, 30),
    )
    return practice


def test_a_plain_request_is_answered_from_one_query(reception_api, busy_practice):
    ask(reception_api, busy_practice, week(busy_practice))  # computed and cached

    with CaptureQueriesContext(connection) as queries:
        response = ask(reception_api, busy_practice, week(busy_practice))

    assert response.status_code == 200
    # The clinician, the type and (had one been named) the clinic: one statement.
    [read] = type_reads(queries)
    assert "clinicians_clinician" in read
    assert not any('appointments_appointment"' in q["sql"] for q in queries.captured_queries)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"clinic": "CLINIC"},
        {"start": "2032-03-29", "end": "2032-04-09"},  # across the end of daylight saving
        {"end": "2032-03-01"},
    ],
)
def test_the_answer_is_the_one_the_steps_give_byte_for_byte(reception_api, busy_practice, extra):
    if extra.get("clinic") == "CLINIC":
        extra = {"clinic": busy_practice.clinic.pk}
    plain = week(busy_practice, **extra)
    # A leading zero is the same type to the serializer, but not plainly written: the steps.
    stepwise = plain.replace(
        f"appointment_type={busy_practice.consult.pk}",
        f"appointment_type=0{busy_practice.consult.pk}",
    )

    ask(reception_api, busy_practice, plain)  # computed and cached
    with CaptureQueriesContext(connection) as at_once:
        fast = ask(reception_api, busy_practice, plain)
    with CaptureQueriesContext(connection) as step_by_step:
        slow = ask(reception_api, busy_practice, stepwise)

    assert fast.status_code == slow.status_code == 200
    assert fast.content == slow.content
    assert fast["Content-Type"] == slow["Content-Type"] == "application/json"
    assert fast.content == JSONRenderer().render(json.loads(fast.content))
    # Each way was taken: the clinician read with the type, and on its own.
    [together] = type_reads(at_once)
    [alone] = type_reads(step_by_step)
    assert "clinicians_clinician" in together
    assert "clinicians_clinician" not in alone
    assert len(step_by_step.captured_queries) > len(at_once.captured_queries)


def test_both_clinics_and_the_booking_show(reception_api, busy_practice):
    slots = ask(reception_api, busy_practice, week(busy_practice)).json()

    starts = [slot["start"] for slot in slots]
    assert "2032-03-01T10:00:00+11:00" not in starts  # booked
    assert "2032-03-01T10:30:00+11:00" in starts
    assert "2032-03-02T09:00:00+08:00" in starts  # Perth, on Tuesday
    order = [(datetime.fromisoformat(slot["start"]), slot["clinic"]) for slot in slots]
    assert order == sorted(order)


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("start=2032-03-02&end=2032-03-01&appointment_type={type}", 400, "end"),
        ("start=2032-03-01&end=2032-09-01&appointment_type={type}", 400, "end"),
        ("start=2032-02-30&end=2032-03-01&appointment_type={type}", 400, "start"),
        ("start=2032-03-01&end=2032-03-07&appointment_type=999999", 400, "appointment_type"),
        ("start=2032-03-01&end=2032-03-07&appointment_type={inactive}", 400, "appointment_type"),
        ("start=2032-03-01&end=2032-03-07&appointment_type={type}&clinic=999999", 400, "clinic"),
        ("start=2032-03-01&end=2032-03-07&appointment_type={type}&clinic=0", 400, "clinic"),
        ("start=2032-03-01&end=2032-03-07", 400, "appointment_type"),
    ],
)
def test_refusals_are_the_ones_they_were(reception_api, practice, query, status, field):
    inactive = AppointmentTypeFactory(name="Retired", is_active=False)
    query = query.format(type=practice.consult.pk, inactive=inactive.pk)

    response = ask(reception_api, practice, query)

    assert response.status_code == status
    assert field in response.json()["errors"]


def test_an_unknown_clinician_is_not_found_before_anything_else(reception_api, practice):
    for query in (week(practice), "start=yesterday"):
        assert ask(reception_api, practice, query, clinician=999999).status_code == 404
        assert ask(reception_api, practice, query, clinician="abc").status_code == 404


def test_the_last_of_a_repeated_parameter_counts_as_before(reception_api, practice):
    repeated = ask(reception_api, practice, f"start=2032-03-05&{week(practice)}")
    once = ask(reception_api, practice, week(practice))

    assert repeated.content == once.content
    assert repeated.json()[0]["start"] == "2032-03-01T09:00:00+11:00"


def test_an_accept_header_with_parameters_is_rendered_as_asked(reception_api, practice):
    indented = ask(
        reception_api, practice, week(practice), HTTP_ACCEPT="application/json; indent=2"
    )
    plain = ask(reception_api, practice, week(practice))

    assert indented.status_code == 200
    assert indented.content.startswith(b"[\n  {")
    assert json.loads(indented.content) == json.loads(plain.content)


def test_object_permissions_are_still_asked(reception_api, practice, monkeypatch):
    monkeypatch.setattr(RolePermission, "has_object_permission", lambda *args: False)

    assert ask(reception_api, practice, week(practice)).status_code == 403


def test_subjects_are_read_together(practice):
    clinic = practice.clinic
    found = availability_subjects(
        clinician_id=practice.clinician.pk, type_id=practice.consult.pk, clinic_id=clinic.pk
    )

    assert found is not None
    clinician, length = found
    assert clinician.pk == practice.clinician.pk
    assert clinician.family_name == practice.clinician.family_name  # read when touched
    assert length == timedelta(minutes=30)
    assert availability_subjects(
        clinician_id=practice.clinician.pk, type_id=practice.consult.pk, clinic_id=None
    ) == (clinician, length)
    for missing in (
        {"clinician_id": 999999, "type_id": practice.consult.pk, "clinic_id": None},
        {"clinician_id": practice.clinician.pk, "type_id": 999999, "clinic_id": None},
        {"clinician_id": practice.clinician.pk, "type_id": practice.consult.pk, "clinic_id": 9},
    ):
        assert availability_subjects(**missing) is None


def test_free_times_keep_the_slots_from_a_moment_on():
    slots = [
        {"start": f"2032-03-01T09:{m:02}:00+11:00", "end": "x", "clinic": 1} for m in (0, 15, 30)
    ]
    written = [json.dumps(slot, separators=(",", ":")).encode() for slot in slots]
    at = [datetime(2032, 2, 29, 22, m, tzinfo=UTC).timestamp() for m in (0, 15, 30)]
    times = FreeTimes(
        starts=tuple(at),
        offsets=(0, len(written[0]) + 1, len(written[0]) + len(written[1]) + 2),
        body=b",".join(written),
    )

    assert json.loads(times.json(not_before=0)) == slots
    assert json.loads(times.json(not_before=at[1])) == slots[1:]
    assert json.loads(times.json(not_before=at[1] + 1)) == slots[2:]
    assert times.json(not_before=at[2] + 1) == b"[]"
    assert FreeTimes(starts=(), offsets=(), body=b"").json(not_before=0) == b"[]"


def test_an_empty_week_is_an_empty_list(reception_api, practice):
    response = ask(reception_api, practice, week(practice, start="2032-03-06", end="2032-03-07"))

    assert response.status_code == 200
    assert response.content == b"[]"
