"""No input makes a server error: Hypothesis throws odd query strings, forms and JSON bodies
at every public and staff route (found by walking the URL resolver, as tests/test_routes.py
does), anonymously and signed in, and any 5xx fails the test (issue 12 item 4).

Sized for CI (four requests per route). For a long hunt by hand:
    NEXUS_FUZZ_EXAMPLES=500 python -m pytest -n 2 tests/test_fuzz.py
"""

import json
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core import signing
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from accounts.roles import PRACTICE_ADMIN
from tests.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    ClinicalNoteFactory,
    ClinicFactory,
    ClinicianFactory,
    PatientFactory,
    UserFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("NEXUS_FUZZ_EXAMPLES", "4"))  # per route
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=EXAMPLES <= 10,  # CI runs the same cases every time; long hunts roam
    suppress_health_check=[HealthCheck.too_slow],
)

# Django's own admin is a third-party UI (and superuser-only); signing out would end the
# signed-in half of the run. Everything else is fuzzed.
SKIPPED = re.compile(r"^/admin/|logout|^/static/")


def _templates() -> list[str]:
    found: list[str] = []

    def walk(patterns: Any, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                found.append(prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns, "")
    routes = set()
    for route in found:
        if "format" in route:
            continue
        route = route.replace("^", "").replace("$", "").replace("\\.", ".")
        route = re.sub(r"\(\?P<(\w+)>[^)]+\)", r"<int:\1>", route)
        route = route.replace("\\", "")
        if not SKIPPED.search("/" + route):
            routes.add("/" + route)
    return sorted(routes)


TEMPLATES = _templates()

# Values that have broken parsers before: impossible and far-off dates, huge numbers,
# control characters, long strings, non-ASCII digits.
NASTY = st.sampled_from(
    [
        "",
        "0",
        "-1",
        "1",
        "2",
        "99999999999999999999",
        "1e309",
        "NaN",
        "1.5",
        "abc",
        "\x00",
        "a\x00b",
        "٣",
        "2032-02-30",
        "2032-03-01T10:60:00+11:00",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "9999-12-31",
        "0001-01-01",
        "2032-03-01T10:00:00",
        "2032-03-01T10:00:00+11:00",
        "true",
        "null",
        "[]",
        "{}",
        "../../etc/passwd",
        "<script>",
        "' OR 1=1 --",
        "x" * 5000,
        "week",
        "day",
        "booked",
        "cancelled",
        "on",
    ]
)
VALUE = NASTY | st.text(max_size=40) | st.integers(-(2**70), 2**70).map(str)
KEYS = st.sampled_from(
    [
        "q",
        "search",
        "page",
        "page_size",
        "cursor",
        "start",
        "end",
        "date",
        "view",
        "week",
        "type",
        "clinic",
        "clinician",
        "patient",
        "status",
        "start_after",
        "start_before",
        "occurred_after",
        "next",
        "discipline",
        "to",
        "reason",
        "time",
        "appointment_type",
        "given_name",
        "family_name",
        "date_of_birth",
        "phone",
        "email",
        "notes",
        "body",
        "category",
        "consent",
        "override_working_hours",
        "action",
    ]
) | st.text(min_size=1, max_size=10)
JSON_VALUE = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | VALUE
    | st.lists(st.integers(0, 5), max_size=3)
)
JSON_BODY = st.dictionaries(KEYS, JSON_VALUE, max_size=6)


@dataclass
class World:
    ids: list[int]
    tokens: list[str]
    staff: User
    by_name: dict[str, int]  # a path parameter's name -> the real row it should find
    base: dict[str, str]  # a plausible value for every common query key


@pytest.fixture
def world(db) -> World:
    """A small practice, so routes with ids find real rows as well as missing ones."""
    clinic = ClinicFactory(name="Fuzz clinic")
    clinician = ClinicianFactory(clinics=[clinic], listed_publicly=True)
    for weekday in range(7):
        WorkingHoursFactory(clinician=clinician, clinic=clinic, weekday=weekday)
    consult = AppointmentTypeFactory(name="Fuzz consult", bookable_online=True)
    patient = PatientFactory()
    start = timezone.now() + timedelta(days=3)
    appointment = AppointmentFactory(
        patient=patient, clinician=clinician, clinic=clinic, appointment_type=consult, start=start
    )
    note = ClinicalNoteFactory(patient=patient)
    ids = sorted({clinic.pk, clinician.pk, consult.pk, patient.pk, appointment.pk, note.pk})
    tokens = [signing.dumps(appointment.pk, salt="booking.appointment")]
    staff = UserFactory(role=PRACTICE_ADMIN)
    by_name = {"clinician_id": clinician.pk, "patient_id": patient.pk, "patient_pk": patient.pk}
    base = {
        "type": str(consult.pk),
        "appointment_type": str(consult.pk),
        "clinic": str(clinic.pk),
        "clinician": str(clinician.pk),
        "patient": str(patient.pk),
        "start": start.replace(microsecond=0).isoformat(),
        "date": start.date().isoformat(),
        "time": "10:00",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "date_of_birth": "1985-12-09",
        "phone": "0412 345 678",
        "consent": "on",
        "reason": "unwell",
    }
    return World(ids=ids, tokens=tokens, staff=staff, by_name=by_name, base=base)


def _path(template: str, world: World) -> st.SearchStrategy[str]:
    real = st.sampled_from(world.ids)
    bogus = st.sampled_from([0, 2**31, 2**63, 10**25])
    strings = st.sampled_from(world.tokens) | st.text(
        alphabet=st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=30
    )

    def piece(part: str) -> st.SearchStrategy[str]:
        if not part.startswith("<"):
            return st.just(part)
        if not part.startswith("<int:"):
            return strings
        name = part[5:-1]
        known = st.just(world.by_name[name]) if name in world.by_name else real
        return st.one_of(known, known, known, bogus).map(str)

    return st.tuples(*(piece(p) for p in re.split(r"(<[^>]+>)", template))).map("".join)


def _query(world: World) -> st.SearchStrategy[dict[str, str]]:
    """Plausible values for the common keys (real ids, a real time) with one to three
    replaced by nasty ones and a few dropped, so a bad value reaches the code behind the
    checks the others pass."""
    names = sorted(world.base)
    changes = st.dictionaries(st.sampled_from(names) | KEYS, VALUE, min_size=1, max_size=3)
    dropped = st.sets(st.sampled_from(names), max_size=4)
    return st.tuples(dropped, changes).map(
        lambda drawn: {k: v for k, v in world.base.items() if k not in drawn[0]} | drawn[1]
    )


def _send(client: Client, method: str, path: str, query: dict[str, str], body: Any) -> int:
    if method == "get":
        return client.get(path, query).status_code
    if path.startswith("/api/"):
        return getattr(client, method)(
            path + "?" + "&".join(f"{k}=1" for k in query),
            data=json.dumps(body),
            content_type="application/json",
        ).status_code
    return client.post(path, {**query, **{k: str(v) for k, v in body.items()}}).status_code


def test_the_route_list_is_walked():
    assert "/book/<int:clinician_id>/details/" in TEMPLATES
    assert "/api/v1/appointments/" in TEMPLATES
    assert "/patients/" in TEMPLATES
    assert not any(t.startswith("/admin/") for t in TEMPLATES)


def test_no_request_makes_a_server_error(world):
    # One practice for all routes (setting it up per route cost more than the requests);
    # each route then gets its own Hypothesis run, so every route is tried every time.
    for template in TEMPLATES:
        _fuzz_route(world, template)


def _fuzz_route(world: World, template: str) -> None:
    @FUZZ
    @given(data=st.data())
    def probe(data: st.DataObject) -> None:
        signed_in = data.draw(st.booleans(), label="signed_in")
        client = Client()
        if signed_in:
            client.force_login(world.staff)
        path = data.draw(_path(template, world), label="path")
        method = data.draw(
            st.sampled_from(["get", "get", "post", "patch", "delete"]), label="method"
        )
        query = data.draw(_query(world), label="query")
        body = data.draw(JSON_BODY, label="body")

        status = _send(client, method, path, query, body)

        assert status < 500, (signed_in, method, path, query, body, status)

    probe()
