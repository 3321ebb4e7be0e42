"""The six ways to tamper with the audit trail (issue 12 item 6), each detected.

Tampering is done as a database superuser would: the append-only triggers switched off
(`session_replication_role = replica`) and no access to NEXUS_AUDIT_CHECKPOINT_KEY, which
the application holds and the database does not.
"""

import json
from io import StringIO

import pytest
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit import checkpoints
from audit.models import AuditEvent
from audit.services import Target, audit_chain_verify, audit_record, audit_seal
from tests.conftest import requires_postgres
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(db):
    return PatientFactory()


def _read(patient, rf, times: int = 1) -> None:
    for _ in range(times):
        audit_record(
            request=rf.get("/"),
            action=AuditEvent.Action.READ,
            targets=[Target("patients.patient", str(patient.pk), patient.pk)],
        )


def _as_superuser_without_triggers() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")


def _rechain() -> None:
    """What an attacker with the database does after a change: renumber and recompute
    every hash so each link checks out again."""
    prev = "0" * 64
    for seq, event in enumerate(AuditEvent.objects.filter(seq__isnull=False).order_by("seq"), 1):
        event.seq, event.prev_hash = seq, prev
        event.hash = prev = event.compute_hash()
        AuditEvent.objects.filter(pk=event.pk).update(
            seq=event.seq, prev_hash=event.prev_hash, hash=event.hash
        )


def _verify_fails(match: str) -> None:
    report = audit_chain_verify()
    assert not report.ok
    with pytest.raises(CommandError, match=match):
        call_command("audit_verify", stdout=StringIO())


def test_an_intact_chain_verifies_and_checkpoints_its_head(patient, rf, caplog):
    _read(patient, rf, times=3)

    assert audit_seal() == 3

    latest = checkpoints.checkpoint_latest()
    assert latest is not None and latest.genuine
    assert latest.seq == 3
    assert latest.hash == AuditEvent.objects.get(seq=3).hash
    assert any("audit.checkpoint" in r.getMessage() for r in caplog.records)
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "3 events verified" in out.getvalue()


def test_new_events_are_sealed_within_seconds(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["audit-seal"]
    assert entry["schedule"] <= 10


# 1 of 6
def test_deleting_the_newest_events_is_detected(patient, rf):
    _read(patient, rf, times=3)
    audit_seal()

    _as_superuser_without_triggers()
    AuditEvent.objects.filter(seq__gte=2).delete()

    _verify_fails("events are missing")


# 2 of 6
def test_an_edit_made_before_the_event_is_sealed_is_detected(patient, rf):
    _read(patient, rf, times=2)
    _first, second = AuditEvent.objects.order_by("id")

    _as_superuser_without_triggers()
    AuditEvent.objects.filter(pk=second.pk).update(actor=None, object_id="999")
    # Detected before sealing, and after the seal has linked the edited event in.
    assert audit_chain_verify().first_broken_id == second.pk
    audit_seal()

    report = audit_chain_verify()
    assert report.first_broken_id == second.pk
    assert "MAC" in report.reason
    _verify_fails(f"broken at event {second.pk}")


# 3 of 6
def test_a_deleted_event_with_the_chain_recomputed_is_detected(patient, rf):
    _read(patient, rf, times=3)
    audit_seal()

    _as_superuser_without_triggers()
    AuditEvent.objects.filter(seq=2).delete()
    _rechain()

    _verify_fails("events are missing")


def test_an_edited_event_with_the_chain_recomputed_is_detected(patient, rf):
    _read(patient, rf, times=3)
    audit_seal()
    middle = AuditEvent.objects.get(seq=2)

    _as_superuser_without_triggers()
    AuditEvent.objects.filter(pk=middle.pk).update(action="search")
    _rechain()

    assert audit_chain_verify().first_broken_id == middle.pk
    _verify_fails(f"broken at event {middle.pk}")


# 4 of 6
def test_emptying_the_table_is_detected(patient, rf):
    _read(patient, rf, times=3)
    audit_seal()

    _as_superuser_without_triggers()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # Deferred FK checks block TRUNCATE.
            cursor.execute("TRUNCATE audit_auditevent")
    else:
        AuditEvent.objects.all().delete()

    # Not "intact, 0 events".
    _verify_fails("the table holds 0")


@requires_postgres
def test_postgres_refuses_truncate_of_the_audit_table(patient, rf):
    _read(patient, rf)

    with (
        pytest.raises(DatabaseError, match="TRUNCATE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE audit_auditevent")

    assert AuditEvent.objects.count() == 1


# 5 of 6
def test_an_edited_sealed_event_is_detected(patient, rf):
    _read(patient, rf, times=3)
    audit_seal()
    middle = AuditEvent.objects.get(seq=2)

    _as_superuser_without_triggers()
    AuditEvent.objects.filter(pk=middle.pk).update(outcome="failure")

    _verify_fails(f"broken at event {middle.pk}")


# 6 of 6
def test_a_deleted_sealed_event_is_detected(patient, rf):
    _read(patient, rf, times=3)
    audit_seal()
    last = AuditEvent.objects.get(seq=3)

    _as_superuser_without_triggers()
    AuditEvent.objects.filter(seq=2).delete()

    assert audit_chain_verify().first_broken_id == last.pk
    _verify_fails(f"broken at event {last.pk}")


def test_a_tampered_chain_is_not_extended_over_the_evidence(patient, rf, caplog):
    _read(patient, rf, times=3)
    audit_seal()
    _as_superuser_without_triggers()
    AuditEvent.objects.filter(seq=3).delete()
    _read(patient, rf, times=2)

    # Sealing the new events would put a fresh checkpoint over the missing one.
    assert audit_seal() == 0

    assert any("audit.chain_head_mismatch" in r.getMessage() for r in caplog.records)
    _verify_fails("events are missing")


def test_a_forged_checkpoint_is_detected(patient, rf):
    _read(patient, rf, times=2)
    audit_seal()
    latest = checkpoints.checkpoint_latest()
    assert latest is not None
    storage = storages[checkpoints.STORAGE]
    [day], _ = storage.listdir("")
    forged = {"seq": 1, "hash": latest.hash, "at": latest.at, "mac": "0" * 64}
    with storage.open(f"{day}/{'9' * 20}.json", "w") as handle:
        handle.write(json.dumps(forged))

    _verify_fails("signature")


def _read_page(patients, rf) -> None:
    audit_record(
        request=rf.get("/"),
        action=AuditEvent.Action.READ,
        targets=[Target("patients.patient", str(p.pk), p.pk) for p in patients],
    )


@pytest.mark.parametrize(
    ("column", "value"),
    [("patient_ids", "remove"), ("patient_ids", "empty"), ("object_ids", "remove")],
)
def test_editing_a_pages_list_of_patients_is_detected(column, value, rf):
    # Given a sealed page read of three patients between two other events
    patients = PatientFactory.create_batch(3)
    _read(patients[0], rf)
    _read_page(patients, rf)
    _read(patients[0], rf)
    audit_seal()
    page = AuditEvent.objects.get(seq=2)
    assert len(getattr(page, column)) == 3

    # When a superuser hides that one of them was shown
    edited = [] if value == "empty" else getattr(page, column)[1:]
    _as_superuser_without_triggers()
    AuditEvent.objects.filter(pk=page.pk).update(**{column: edited})

    # Then the verifier names that event
    assert audit_chain_verify().first_broken_id == page.pk
    _verify_fails(f"broken at event {page.pk}")


def test_editing_an_unsealed_pages_list_is_detected(rf):
    patients = PatientFactory.create_batch(2)
    _read_page(patients, rf)
    page = AuditEvent.objects.get()

    _as_superuser_without_triggers()
    AuditEvent.objects.filter(pk=page.pk).update(patient_ids=[patients[0].pk])

    report = audit_chain_verify()
    assert (report.first_broken_id, report.reason) == (
        page.pk,
        "content does not match its MAC (unsealed)",
    )


@requires_postgres
def test_postgres_refuses_an_update_of_a_pages_list(rf):
    patients = PatientFactory.create_batch(2)
    _read_page(patients, rf)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.update(patient_ids=[])

    assert AuditEvent.objects.get().patient_ids == sorted(p.pk for p in patients)
