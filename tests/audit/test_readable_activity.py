"""The audit pages a practice manager can read: names instead of 'patients.patient 137',
filters by person, action and date range, and a CSV export that is itself audited."""

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from audit.models import AuditEvent
from tests.conftest import signed_in
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db
SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.fixture
def manager() -> Client:
    return signed_in("practice_admin")


@pytest.fixture
def trail():
    ada = PatientFactory(given_name="Ada", family_name="Lovelace")
    mei = UserFactory(role="clinician", full_name="Mei Wang")
    sam = UserFactory(role="reception", full_name="Sam Lee")

    def event(actor, action, day, patient=ada):
        return AuditEvent.objects.create(
            actor=actor,
            action=action,
            object_type="patients.patient",
            object_id=str(patient.pk),
            patient=patient,
            occurred_at=datetime(2032, 3, day, 10, tzinfo=SYDNEY),
        )

    event(mei, "read", 1)
    event(mei, "update", 2)
    event(sam, "read", 5)
    return ada, mei, sam


def rows(response) -> list[AuditEvent]:
    return list(response.context["page"].events)


def test_records_and_patients_are_named(manager, trail):
    ada, _, _ = trail

    page = manager.get("/audit/", {"from": "2032-03-01", "to": "2032-03-31"}).content.decode()

    assert "Patient " + str(ada.pk) in page and "patients.patient" not in page
    assert ">Ada Lovelace</a>" in page


def test_filters_by_person_action_and_date_range(manager, trail):
    _, mei, _ = trail

    by_mei = manager.get("/audit/", {"actor": mei.pk, "from": "2032-03-01", "to": "2032-03-31"})
    updates = manager.get("/audit/", {"action": "update", "from": "2032-03-01"})
    first_days = manager.get("/audit/", {"from": "2032-03-01", "to": "2032-03-02"})

    assert {e.actor_id for e in rows(by_mei)} == {mei.pk} and len(rows(by_mei)) == 2
    assert [e.action for e in rows(updates)] == ["update"]
    assert len(rows(first_days)) == 2


def test_the_csv_export_follows_the_filters_and_is_itself_audited(manager, trail):
    _, _, sam = trail

    response = manager.get("/audit/", {"actor": sam.pk, "from": "2032-03-01", "format": "csv"})

    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.content.decode())))
    assert table[0][:3] == ["When", "Who", "Action"]
    assert [(r[1], r[2], r[4]) for r in table[1:]] == [("Sam Lee", "Read", "Patient")]
    export = AuditEvent.objects.get(action="export")
    assert export.detail["view"] == "audit_export" and export.detail["actor"] == str(sam.pk)


def test_reception_cannot_read_or_export_the_trail(trail):
    desk = signed_in("reception")

    assert desk.get("/audit/").status_code == 403
    assert desk.get("/audit/", {"format": "csv"}).status_code == 403
