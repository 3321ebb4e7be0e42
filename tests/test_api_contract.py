"""Schemathesis against our own OpenAPI document: every operation under /api/v1/, with
data that fits the schema and data that does not, answers only what the schema promises
(issue 12 item 12).

The schema is the live one, fetched from /api/schema/ through the WSGI application, and
the requests go through the whole Django stack in-process. Each operation gets a fixed,
derandomised handful of cases per mode, so CI runs the same cases every time in well under
a minute. For a long hunt by hand:
    NEXUS_SCHEMATHESIS_EXAMPLES=100 python -m pytest tests/test_api_contract.py
"""

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import ApiToken
from tests.conftest import MONDAY, sydney
from tests.factories import AppointmentFactory, ClinicalNoteFactory, DisciplineFactory

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("NEXUS_SCHEMATHESIS_EXAMPLES", "3"))  # per operation and mode
CASES = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
ALWAYS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _checks(method: str, mode: GenerationMode) -> list:
    if mode is GenerationMode.NEGATIVE:
        return [*ALWAYS, negative_data_rejection]
    # A read's parameters (filters, pages) say everything about what is accepted, so a
    # schema-valid read must not be refused. A write's body passes rules no schema states
    # (a clinic's timezone must exist, a slot must be free): its 400/409 are documented.
    if method == "GET":
        return [*ALWAYS, positive_data_acceptance]
    return ALWAYS


def _exercise(
    operation: Any,
    mode: GenerationMode,
    auth: dict[str, str],
    calls: Counter,
    failures: Counter,
    first: dict[str, str],
) -> None:
    checks = _checks(operation.method.upper(), mode)

    @given(case=operation.as_strategy(generation_mode=mode))
    @CASES
    def call(case: Any) -> None:
        calls[mode.value] += 1
        try:
            case.call_and_validate(headers=auth, checks=checks)
        except* Failure as group:
            for failure in group.exceptions:
                key = f"{operation.label} [{mode.value}] {failure.title}"
                failures[key] += 1
                first.setdefault(key, f"{failure}\n{case.as_curl_command()}")

    call()


@pytest.fixture
def _connection_kept_between_requests():
    # The WSGI handler closes the database connection when a request finishes; inside a
    # test's transaction that would close the test's own connection (on PostgreSQL). Django's
    # test client unhooks the same signal handlers for the same reason.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.mark.usefixtures("_connection_kept_between_requests")
def test_the_api_answers_only_what_its_schema_promises(admin_user, practice, patient):
    # Given a practice with some rows for the generated ids to find, and a token for it all
    AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )
    ClinicalNoteFactory(patient=patient)
    _, key = ApiToken.issue(user=admin_user, name="schemathesis", scopes=["*:read", "*:write"])
    auth = {"Authorization": f"Bearer {key}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler(), headers=auth)
    failures: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    first: dict[str, str] = {}  # each kind of failure, once, with a curl to reproduce it

    # When every operation is called with data that fits its schema and data that does not
    for result in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _exercise(result.ok(), mode, auth, calls, failures, first)

    # Then no answer is a server error or strays from the schema
    print(f"schemathesis: {sum(calls.values())} calls {dict(calls)}, failures {dict(failures)}")
    assert sum(calls.values()) > 100
    assert dict(failures) == {}, "\n\n".join(first.values())


# The cases schemathesis found before they were fixed, each pinned down.


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/clinics/1.5/",
        "/api/v1/patients/abc/documents/",
        "/api/v1/no-such-thing/",
        "/api/nowhere",
    ],
)
def test_an_unknown_api_address_is_a_json_404(admin_api, path):
    response = admin_api.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_an_unknown_staff_page_is_still_the_styled_html_404(admin_client):
    response = admin_client.get("/patients/abc/nothing/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "query", [{"clinic": 999999}, {"discipline": 123456}, {"clinic": 2**63 - 1}]
)
def test_filtering_by_an_id_nothing_has_is_an_empty_list(admin_api, practice, query):
    response = admin_api.get("/api/v1/clinicians/", query)

    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


def test_filtering_clinicians_by_clinic_and_discipline_still_finds_them(admin_api, practice):
    discipline = DisciplineFactory()
    practice.clinician.disciplines.add(discipline)

    by_clinic = admin_api.get("/api/v1/clinicians/", {"clinic": practice.clinic.pk})
    by_both = admin_api.get(
        "/api/v1/clinicians/", {"clinic": practice.clinic.pk, "discipline": discipline.pk}
    )

    assert [c["id"] for c in by_clinic.json()["results"]] == [practice.clinician.pk]
    assert [c["id"] for c in by_both.json()["results"]] == [practice.clinician.pk]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/clinicians/", {"clinic": 0}),  # ids start at 1, as the schema says
        ("/api/v1/clinicians/", {"clinic": 2**63}),
        ("/api/v1/clinicians/", {"clinic": "1.5"}),
        ("/api/v1/clinicians/", {"is_active": "null"}),
        ("/api/v1/clinicians/", {"is_active": "1"}),
        ("/api/v1/appointment-types/", {"is_active": ""}),
        ("/api/v1/appointments/", {"clinic": ""}),
        ("/api/v1/appointments/", {"status": ""}),
        ("/api/v1/clinicians/", {"page": ""}),
        ("/api/v1/clinicians/", {"page_size": ""}),
    ],
)
def test_a_parameter_the_schema_does_not_allow_is_a_400_naming_it(admin_api, path, query):
    response = admin_api.get(path, query)

    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) == set(query)


def test_booleans_and_empty_text_filters_still_work(admin_api, practice):
    active = admin_api.get("/api/v1/clinicians/", {"is_active": "true", "search": ""})
    inactive = admin_api.get("/api/v1/clinicians/", {"is_active": "false"})

    assert [c["id"] for c in active.json()["results"]] == [practice.clinician.pk]
    assert inactive.json()["results"] == []
