"""Every list endpoint runs a fixed number of queries, however many rows it returns."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from audit.services import Target, audit_record
from integrations.models import Message
from tests.conftest import MONDAY, sydney
from tests.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    ClinicalNoteFactory,
    ClinicFactory,
    ClinicianFactory,
    CoordinatorFactory,
    DisciplineFactory,
    PatientFactory,
    ReferrerFactory,
)

pytestmark = pytest.mark.django_db


def make_clinicians(n: int) -> None:
    clinic = ClinicFactory(name="Budget clinic")
    for i in range(n):
        ClinicianFactory(clinics=[clinic], disciplines=[DisciplineFactory(name=f"D{i % 3}")])


def make_patients(n: int, **names: str) -> None:
    clinic = ClinicFactory(name="Home")
    for _ in range(n):
        PatientFactory(
            home_clinic=clinic,
            referrer=ReferrerFactory(),
            coordinator=CoordinatorFactory(),
            **names,
        )


def make_adas(n: int) -> None:
    """Patients the search below finds, so the page (and its audit insert) is never empty."""
    make_patients(n, given_name="Ada")


def make_appointments(n: int) -> None:
    clinician = ClinicianFactory()
    clinic = ClinicFactory(name="Appointments clinic")
    kind = AppointmentTypeFactory(name="Budget type")
    first = sydney(MONDAY, 9) + timedelta(days=7 * AppointmentFactory._meta.model.objects.count())
    for i in range(n):
        AppointmentFactory(
            clinician=clinician,
            clinic=clinic,
            appointment_type=kind,
            start=first + timedelta(minutes=30 * i),
        )


def make_notes(n: int) -> None:
    ClinicalNoteFactory.create_batch(n)


def make_audit_events(n: int) -> None:
    patient = PatientFactory()
    audit_record(
        request=RequestFactory().get("/"),
        action="read",
        targets=[Target("patients.patient", str(patient.pk), patient.pk)] * n,
    )


def make_messages(n: int) -> None:
    for _ in range(n):
        Message.objects.create(kind="adhoc", to="+61412000000", body="Hi", patient=PatientFactory())


# Audited lists also record their page in the audit trail: one bulk INSERT, whatever the
# page size (the hash chain is sealed later, off the request path).
AUDIT = 1

# (endpoint, how to make rows, most queries allowed for one page)
LISTS: list[tuple[str, Callable[[int], None], int]] = [
    ("/api/v1/clinics/", lambda n: [ClinicFactory() for _ in range(n)], 2),
    (
        "/api/v1/disciplines/",
        lambda n: [DisciplineFactory(name=f"Discipline {i}") for i in range(n)],
        2,
    ),
    ("/api/v1/clinicians/", make_clinicians, 4),
    ("/api/v1/patients/", make_patients, 1 + AUDIT),
    ("/api/v1/patients/?search=ada", make_adas, 1 + AUDIT),
    ("/api/v1/referrers/", lambda n: ReferrerFactory.create_batch(n), 2),
    ("/api/v1/coordinators/", lambda n: CoordinatorFactory.create_batch(n), 2),
    ("/api/v1/appointment-types/", lambda n: AppointmentTypeFactory.create_batch(n), 2),
    ("/api/v1/appointments/", make_appointments, 1 + AUDIT),
    ("/api/v1/notes/", make_notes, 1 + AUDIT),
    ("/api/v1/audit-events/", make_audit_events, 1),
    # + 1: the attached documents of the page's emails, in one prefetch.
    ("/api/v1/messages/", make_messages, 2 + AUDIT),
]


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, {"page_size": 100} if "?" not in url else None)
    assert response.status_code == 200
    return len(ctx)


@pytest.mark.parametrize(("url", "make", "budget"), LISTS, ids=[u for u, _, _ in LISTS])
def test_list_queries_stay_flat_as_rows_grow(admin_api, clinician_api, url, make, budget):
    client = clinician_api if "notes" in url else admin_api
    client.get(url)  # Warm the user's permission cache, which is per request user.

    make(3)
    few = queries_for(client, url)
    make(12)
    many = queries_for(client, url)

    assert many == few, f"{url}: {few} queries for 3 rows, {many} for 15"
    assert many <= budget, f"{url}: {many} queries, budget {budget}"
