"""The FileMaker import end to end against the fake server, driven by python-fmrest."""

import hashlib
import io
import re
import sys

import pytest
from django.core.management import CommandError, call_command

from appointments.models import Appointment, AppointmentType
from audit.models import AuditEvent
from clinicians.models import Clinician, Discipline
from documents.models import Document
from integrations.filemaker.importer import OUTCOMES
from integrations.models import ImportRun
from notes.models import ClinicalNote
from patients.models import Patient
from tests.integrations.filemaker.helpers import counts, run_import, snapshot

pytestmark = pytest.mark.django_db

# Where each kind of dirty data in the generated fm_practice must end up in the report.
EXPECTED = {
    ("Clients", "warnings", "impossible_date"): "impossible_dob",
    ("Clients", "warnings", "zero_date"): "zero_dob",
    ("Clients", "warnings", "two_digit_year"): "two_digit_year",
    ("Clients", "warnings", "future_date_of_birth"): "future_dob",
    ("Clients", "warnings", "invalid_phone"): "phone_text",
    ("Clients", "warnings", "invalid_medicare_number"): "medicare_bad_check",
    ("Clients", "warnings", "invalid_ndis_number"): "ndis_wrong_length",
    ("Clients", "warnings", "shared_phone"): "shared_phone",
    ("Clients", "warnings", "invalid_dva_number"): "dva_made_up",
    ("Clients", "warnings", "invalid_date_of_birth"): "dob_before_1900",
    ("Clients", "rejected_ids", "missing_family_name"): "no_last_name",
    ("Appointments", "rejected_ids", "orphan_patient"): "orphan_appointment_client",
    ("Appointments", "rejected_ids", "orphan_clinician"): "orphan_appointment_practitioner",
    ("Appointments", "rejected_ids", "double_booking_not_past"): "double_booking_future",
    ("Appointments", "warnings", "double_booking_history"): "double_booking_past",
    ("Appointments", "warnings", "nonexistent_local_time"): "nonexistent_local_time",
    ("Appointments", "warnings", "ambiguous_local_time"): "ambiguous_local_time",
    ("ClinicalNotes", "rejected_ids", "orphan_patient"): "orphan_note_client",
    ("ClinicalNotes", "rejected_ids", "orphan_author"): "orphan_note_practitioner",
    ("ClinicalNotes", "warnings", "signed_without_author"): "signed_without_author",
    ("Documents", "rejected_ids", "empty_container"): "empty_container",
    ("Documents", "rejected_ids", "missing_bytes"): "missing_bytes",
    ("Documents", "warnings", "legacy_format"): "legacy_format",
    ("Documents", "merged_ids", "identical_file"): "identical_file",
}


def test_full_import_adds_up_and_names_every_kind_of_dirty_data(
    fake_filemaker, fm_practice, tmp_path
):
    report = run_import(tmp_path)

    assert report["balanced"] is True
    for layout, state in report["layouts"].items():
        assert (
            sum(state[o] for o in OUTCOMES)
            == state["found_count"]
            == len(fm_practice.layouts[layout])
        )
        assert state["rejected"] == sum(len(ids) for ids in state["rejected_ids"].values())
        assert state["merged"] == sum(len(ids) for ids in state["merged_ids"].values())
    for (layout, bucket, reason), dirty_kind in EXPECTED.items():
        named = report["layouts"][layout][bucket].get(reason, [])
        for legacy_id in fm_practice.dirty[dirty_kind]:
            assert legacy_id in named, (layout, bucket, reason, legacy_id)
    assert (
        sorted(fm_practice.dirty["duplicate_client"])
        in report["layouts"]["Clients"]["merge_candidates"]
    )
    # Nothing rejected that the generator did not make dirty.
    assert report["layouts"]["Referrers"]["imported"] == len(fm_practice.layouts["Referrers"])
    assert (tmp_path / "report.csv").read_text().count("\n") > 20


def test_the_rows_come_over_as_nexus_expects(fake_filemaker, fm_practice, tmp_path):
    run_import(tmp_path)

    # Practitioners: clinicians whether active or not, never listed publicly, no accounts.
    assert Clinician.objects.count() == len(fm_practice.layouts["Practitioners"])
    assert Clinician.objects.filter(is_active=False).exists()
    assert not Clinician.objects.filter(listed_publicly=True).exists()
    assert not Clinician.objects.filter(user__isnull=False).exists()
    # "Podiatry" and "podiatry " are one discipline;
    # "Initial Consult" and "initial consult " one appointment type.
    assert Discipline.objects.filter(name__iexact="podiatry").count() == 1
    assert AppointmentType.objects.filter(name__iexact="initial consult").count() == 1
    assert not Appointment.objects.exclude(source=Appointment.Source.IMPORT).exists()

    # A patient's number with spaces is stored clean; a bad value is kept in the alerts.
    spaced = Patient.objects.get(legacy_id=fm_practice.dirty["medicare_spaces"][0])
    assert spaced.medicare_number.isdigit() and len(spaced.medicare_number) == 10
    texted = Patient.objects.get(legacy_id=fm_practice.dirty["phone_text"][0])
    assert "ring mum first" in texted.alerts
    plus = Patient.objects.get(legacy_id=fm_practice.dirty["phone_61"][0])
    assert str(plus.phone) == "+61412345612"
    assert (
        Patient.objects.get(legacy_id=fm_practice.dirty["two_digit_year"][0]).date_of_birth.year
        == 1975
    )

    # The past double booking is kept as history, outside the no-overlap rule.
    history = Appointment.objects.get(legacy_id=fm_practice.dirty["double_booking_past"][0])
    assert history.imported_overlap is True and history.status == Appointment.Status.COMPLETED

    # Signed notes stay signed with their digest; unsigned ones are drafts.
    signed = ClinicalNote.objects.filter(status=ClinicalNote.Status.SIGNED)
    assert signed.exists()
    for note in signed:
        assert note.content_sha256 == note.compute_sha256()
    long_note = ClinicalNote.objects.get(legacy_id=fm_practice.dirty["long_note"][0])
    assert len(long_note.body.encode()) > 100_000
    assert ClinicalNote.objects.filter(status=ClinicalNote.Status.DRAFT).exists()

    # Documents: the SHA-256 of the container's bytes, on the right patient.
    rows = {r["DocID"]: r for r in fm_practice.layouts["Documents"]}
    for document in Document.objects.select_related("patient"):
        row = rows[document.legacy_id]
        content, _ = fm_practice.files[row["File"].split(".")[0]]
        assert document.sha256 == hashlib.sha256(content).hexdigest()
        assert document.patient.legacy_id == row["ClientID"]
        with document.file.open("rb") as handle:
            assert handle.read() == content
    legacy = Document.objects.filter(legacy_id__in=fm_practice.dirty["legacy_format"])
    assert legacy.count() == 2 and all(d.legacy_format for d in legacy)


def test_a_second_run_changes_nothing(fake_filemaker, tmp_path):
    first = run_import(tmp_path, name="first")
    before = snapshot()

    second = run_import(tmp_path, name="second")

    assert snapshot() == before
    for layout, state in second["layouts"].items():
        assert state["imported"] == 0, layout
        assert state["updated"] == 0, layout
        assert counts(second)[layout]["found_count"] == counts(first)[layout]["found_count"]
    assert second["balanced"] is True


def test_a_dry_run_writes_nothing_and_reports_the_same_counts(fake_filemaker, tmp_path, settings):
    before = snapshot()

    dry = run_import(tmp_path, "--dry-run", name="dry")

    assert snapshot() == before
    assert not ImportRun.objects.exists()
    assert not (tmp_path / "media").exists() or not any((tmp_path / "media").rglob("*"))
    real = run_import(tmp_path, name="real")
    assert counts(dry) == counts(real)


def test_odata_gives_the_same_result_as_the_data_api(fake_filemaker, tmp_path):
    odata = run_import(tmp_path, "--source", "odata", name="odata")
    rows = snapshot()

    assert odata["balanced"] is True
    # The fake pages OData at 50 records: following nextLink got every one.
    assert odata["layouts"]["Appointments"]["found_count"] == 300
    again = run_import(tmp_path, name="data-api")
    assert snapshot() == rows
    assert all(s["imported"] == 0 for s in again["layouts"].values())


def test_a_source_record_changed_since_is_updated_unless_edited_in_nexus(
    fake_filemaker, fm_practice, tmp_path, monkeypatch
):
    run_import(tmp_path, name="first")
    referrers = fm_practice.layouts["Referrers"]
    monkeypatch.setitem(referrers[0], "Name", "Dr Renamed In FileMaker")
    monkeypatch.setitem(referrers[1], "Name", "Dr Also Renamed")
    # Reception corrected the second one in Nexus after the import.
    from patients.models import Referrer

    Referrer.objects.filter(legacy_id=referrers[1]["ReferrerID"]).update(name="Dr Fixed In Nexus")

    report = run_import(tmp_path, "--only", "Referrers", name="second")

    state = report["layouts"]["Referrers"]
    assert state["updated"] == 1 and state["conflicts"] == 1
    assert state["conflict_ids"] == [referrers[1]["ReferrerID"]]
    assert (
        Referrer.objects.get(legacy_id=referrers[0]["ReferrerID"]).name == "Dr Renamed In FileMaker"
    )
    assert Referrer.objects.get(legacy_id=referrers[1]["ReferrerID"]).name == "Dr Fixed In Nexus"
    assert list(report["layouts"]) == ["Referrers"]


def test_since_reads_only_records_modified_after(
    fake_filemaker, fm_practice, tmp_path, monkeypatch
):
    run_import(tmp_path, name="first")
    client = fm_practice.layouts["Clients"][40]
    monkeypatch.setitem(client, "ModifiedTS", "11/27/2026 21:30:00")
    monkeypatch.setitem(client, "Alerts", "Latex allergy")

    report = run_import(
        tmp_path, "--since", "2026-11-27T18:00:00", "--only", "clients", name="delta"
    )

    assert counts(report)["Clients"] == {
        "found_count": 1,
        "imported": 0,
        "updated": 1,
        "unchanged": 0,
        "merged": 0,
        "conflicts": 0,
        "rejected": 0,
    }
    assert Patient.objects.get(legacy_id=client["ClientID"]).alerts == "Latex allergy"


def test_an_interrupted_run_resumes_to_the_same_result(fake_filemaker, tmp_path):
    run_import(tmp_path, name="reference")
    reference = snapshot()
    reference_counts = counts(run_import(tmp_path, name="reference-again"))
    # Start again from an empty database: the import dies on the 9th page it asks for.
    _wipe()
    start = fake_filemaker.pages

    def die(count: int) -> None:
        if count - start == 9:
            raise ConnectionAbortedError("FileMaker went away")

    fake_filemaker.on_page = die
    with pytest.raises(CommandError):
        run_import(tmp_path, "--batch-size", "40", name="killed")
    fake_filemaker.on_page = None
    assert ImportRun.objects.get().status == ImportRun.Status.FAILED

    resumed = run_import(tmp_path, "--resume", "--batch-size", "40", name="resumed")

    assert snapshot() == reference
    assert resumed["balanced"] is True
    first = counts(resumed)
    assert {k: v["found_count"] for k, v in first.items()} == {
        k: v["found_count"] for k, v in reference_counts.items()
    }


def _wipe() -> None:
    from clinicians.models import Clinic
    from integrations.models import ImportedRecord
    from patients.models import Coordinator, Referrer

    for model in (
        Document,
        ClinicalNote,
        Appointment,
        Patient,
        Referrer,
        Coordinator,
        Clinician,
        Clinic,
        Discipline,
        AppointmentType,
    ):
        model.objects.all().delete()
    ImportedRecord.objects.all().delete()
    ImportRun.objects.all().delete()


def test_an_expired_token_is_renewed(fake_filemaker, tmp_path):
    start = fake_filemaker.pages

    def expire(count: int) -> None:
        if count - start in (3, 7):
            fake_filemaker.expire_tokens()

    fake_filemaker.on_page = expire
    report = run_import(tmp_path)
    assert report["balanced"] is True


def test_counts_that_do_not_add_up_exit_non_zero(fake_filemaker, tmp_path, monkeypatch):
    monkeypatch.setitem(fake_filemaker.found_bonus, "Coordinators", 3)
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "import_filemaker", "--only", "coordinators", "--report", str(tmp_path / "r.json")
        )
    assert exit_info.value.code == 1


def test_the_audit_trail_has_one_event_per_batch_not_per_row(fake_filemaker, tmp_path):
    run_import(tmp_path, "--batch-size", "100")
    events = AuditEvent.objects.filter(object_type="integrations.importrun")
    # 8 layouts; Clients 120 -> 2 batches, Appointments 300 -> 3, Notes 150 -> 2, Documents 60 -> 1.
    assert events.count() == 1 + 1 + 1 + 1 + 2 + 3 + 2 + 1
    assert not AuditEvent.objects.exclude(object_type="integrations.importrun").exists()


def test_a_wrong_password_is_a_clear_error(fake_filemaker, monkeypatch, tmp_path):
    monkeypatch.setenv("FILEMAKER_PASSWORD", "wrong")
    with pytest.raises(CommandError, match="login failed"):
        run_import(tmp_path)
    with pytest.raises(CommandError, match="OData refused"):
        run_import(tmp_path, "--source", "odata")


def test_the_fake_refuses_percent_encoded_odata_options(fake_filemaker):
    import requests

    response = requests.get(
        f"{fake_filemaker.url}/fmi/odata/v4/Clinic/Clients?%24top=1",
        auth=("importer", "s3cret-import"),
        verify=str(fake_filemaker.ca_file),
        timeout=5,
    )
    assert response.status_code == 400


def test_a_legacy_format_is_only_ever_downloaded_as_an_attachment(
    fake_filemaker, fm_practice, tmp_path, admin_api
):
    run_import(tmp_path)
    document = Document.objects.get(legacy_id=fm_practice.dirty["legacy_format"][0])

    response = admin_api.get(f"/api/v1/documents/{document.pk}/download/")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"] == "application/octet-stream"
    assert (
        b"".join(response.streaming_content)
        == fm_practice.files[
            next(r for r in fm_practice.layouts["Documents"] if r["DocID"] == document.legacy_id)[
                "File"
            ].split(".")[0]
        ][0]
    )


def test_clients_get_the_same_rules_as_the_staff_form(fake_filemaker, fm_practice, tmp_path):
    # patients/validators.py, through the model fields: a DVA number typed with spaces is
    # stored in its one form; a made-up one or a birth before 1900 is blanked, the
    # original kept in the alerts, and the patient still comes over.
    run_import(tmp_path)

    def client(kind: str) -> Patient:
        return Patient.objects.get(legacy_id=fm_practice.dirty[kind][0])

    assert client("dva_spaced").dva_number == "NX123456"
    made_up = client("dva_made_up")
    assert made_up.dva_number == ""
    assert "dva_number: ZZZZ" in made_up.alerts
    old = client("dob_before_1900")
    assert old.date_of_birth is None
    assert "date_of_birth: 1899-12-31" in old.alerts


def test_a_practice_with_other_names_edits_a_copy_of_the_mapping(fake_filemaker, tmp_path):
    from integrations.filemaker.mapping import DEFAULT_MAPPING

    mapping = tmp_path / "ours.toml"
    # This practice keeps the referrer's practice name where the default expects nothing:
    # map FileMaker's "Address" to the practice name instead.
    coordinators = '\n\n[[layouts]]\nlayout = "Coordinators"'
    mapping.write_text(
        DEFAULT_MAPPING.read_text().replace(
            'Address = { to = "address", convert = "text" }' + coordinators,
            'Address = { to = "practice_name", convert = "text" }' + coordinators,
        )
    )
    from patients.models import Referrer

    run_import(tmp_path, "--only", "Referrers", "--mapping", str(mapping))

    first = Referrer.objects.order_by("legacy_id").first()
    assert first is not None and first.practice_name.endswith("George St") and first.address == ""


def test_a_broken_mapping_is_a_clear_error(fake_filemaker, tmp_path):
    mapping = tmp_path / "broken.toml"
    mapping.write_text(
        '[[layouts]]\nlayout = "Clients"\nkind = "clients"\nkey = "ClientID"\n'
        '[layouts.fields]\nDOB = { to = "date_of_birth", convert = "julian" }\n'
    )
    with pytest.raises(CommandError, match="unknown converter"):
        run_import(tmp_path, "--mapping", str(mapping))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_shows_each_layouts_progress_with_its_rate_and_eta(
    fake_filemaker, fm_practice, tmp_path, monkeypatch
):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    run_import(tmp_path)

    shown = terminal.getvalue()
    for layout, rows in fm_practice.layouts.items():
        total = len(rows)
        assert re.search(rf"{layout}\s+\[#+\] {total}/{total} [\d,]+ rec/s ETA 0s", shown), layout


def test_without_a_terminal_the_import_prints_no_progress_bar(
    fake_filemaker, tmp_path, monkeypatch
):
    log_file = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log_file)

    run_import(tmp_path)

    assert "rec/s" not in log_file.getvalue()


def test_a_chart_shows_what_an_import_changed_on_the_very_next_view(
    fake_filemaker, fm_practice, tmp_path, monkeypatch
):
    # The import updates rows in bulk, without signals: it retires cached charts itself.
    from tests.conftest import signed_in

    run_import(tmp_path, name="first")
    client = fm_practice.layouts["Clients"][40]
    patient = Patient.objects.get(legacy_id=client["ClientID"])
    desk = signed_in("reception")
    assert b"Latex allergy" not in desk.get(f"/patients/{patient.pk}/").content
    monkeypatch.setitem(client, "ModifiedTS", "11/27/2026 21:30:00")
    monkeypatch.setitem(client, "Alerts", "Latex allergy")

    run_import(tmp_path, "--since", "2026-11-27T18:00:00", "--only", "clients", name="delta")

    assert b"Latex allergy" in desk.get(f"/patients/{patient.pk}/").content
