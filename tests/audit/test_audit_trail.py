import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client

from audit.models import AuditEvent
from audit.services import Target, audit_chain_verify, audit_record, audit_seal
from audit.tasks import audit_seal_task
from patients.models import Patient
from tests.conftest import MONDAY, requires_postgres, sydney
from tests.factories import AppointmentFactory, ClinicalNoteFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(db):
    return PatientFactory(given_name="Canaryada", family_name="Zzyzxlovelace", phone="+61412345678")


def events():
    """Data-access events (sign-ins are audited too, but are not what these tests check)."""
    return list(AuditEvent.objects.exclude(action__in=["login", "login_failed"]).order_by("id"))


def test_reading_a_patient_leaves_exactly_one_event(reception_api, reception_user, ada):
    response = reception_api.get(f"/api/v1/patients/{ada.pk}/", HTTP_X_REQUEST_ID="req-abcdef123")

    [event] = events()
    assert response.status_code == 200
    assert (event.action, event.outcome) == ("read", "success")
    assert (event.object_type, event.object_id, event.patient_id) == (
        "patients.patient",
        str(ada.pk),
        ada.pk,
    )
    assert event.actor == reception_user
    assert event.request_id == "req-abcdef123"
    assert event.ip == "127.0.0.1"


@pytest.mark.parametrize(
    "path",
    ["/api/v1/patients/{patient}/", "/api/v1/appointments/{appointment}/", "/api/v1/notes/{note}/"],
)
def test_every_patient_detail_read_is_audited_once(
    clinician_api, clinician_user, ada, practice, path
):
    appointment = AppointmentFactory(
        patient=ada,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )
    note = ClinicalNoteFactory(patient=ada, author=clinician_user)

    response = clinician_api.get(
        path.format(patient=ada.pk, appointment=appointment.pk, note=note.pk)
    )

    assert response.status_code == 200
    assert [(e.action, e.patient_id) for e in events()] == [("read", ada.pk)]


def test_a_list_page_is_one_event_naming_each_patient_shown(reception_api, ada):
    other = PatientFactory()

    response = reception_api.get("/api/v1/patients/")

    [event] = events()
    shown = [row["id"] for row in response.json()["results"]]
    assert (event.action, event.object_type, event.patient_id) == ("read", "patients.patient", None)
    assert event.object_ids == [str(pk) for pk in shown]
    assert event.patient_ids == sorted([ada.pk, other.pk])


def test_a_search_is_recorded_without_its_text(reception_api, ada):
    reception_api.get("/api/v1/patients/", {"search": "Zzyzx"})

    [event] = events()
    assert event.action == "search"
    assert event.patient_id == ada.pk
    assert "Zzyzx" not in str(event.detail)


def test_events_hold_no_patient_details(reception_api, ada):
    reception_api.get(f"/api/v1/patients/{ada.pk}/")
    reception_api.patch(f"/api/v1/patients/{ada.pk}/", {"alerts": "Canary alert"}, format="json")

    for event in events():
        row = str([getattr(event, f.attname) for f in AuditEvent._meta.concrete_fields])
        for canary in ("Canaryada", "Zzyzxlovelace", "412345678", "Canary alert"):
            assert canary not in row


def test_writes_are_recorded_with_their_outcome(reception_api, practice, ada):
    booked = reception_api.post(
        "/api/v1/appointments/",
        {
            "patient": ada.pk,
            "clinician": practice.clinician.pk,
            "clinic": practice.clinic.pk,
            "appointment_type": practice.consult.pk,
            "start": sydney(MONDAY, 10).isoformat(),
        },
        format="json",
    )
    appointment_id = booked.json()["id"]
    reception_api.post(f"/api/v1/appointments/{appointment_id}/confirm/")
    reception_api.post(f"/api/v1/appointments/{appointment_id}/complete/")  # not allowed yet

    assert [(e.action, e.outcome, e.patient_id) for e in events()] == [
        ("create", "success", ada.pk),
        ("update", "success", ada.pk),
        ("update", "failure", ada.pk),
    ]


def break_the_audit_table() -> None:
    """Fault injection: the audit table cannot be written (rolled back after the test)."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent RENAME TO audit_unavailable")


def test_if_the_audit_write_fails_the_api_answers_503_with_no_data(reception_api, ada, caplog):
    break_the_audit_table()
    response = reception_api.get(f"/api/v1/patients/{ada.pk}/")

    assert response.status_code == 503
    assert response.json()["code"] == "audit_unavailable"
    assert b"Zzyzxlovelace" not in response.content
    alerts = [
        r
        for r in caplog.records
        if r.levelname == "ERROR" and "audit.write_failed" in r.getMessage()
    ]
    assert len(alerts) == 1


@requires_postgres
def test_the_audit_insert_is_prepared_once_and_writes_each_event(reception_api, ada):
    # Every patient-data request inserts its event: parsed and planned once per connection.
    for _ in range(3):
        assert reception_api.get(f"/api/v1/patients/{ada.pk}/").status_code == 200

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        inserts = [
            s for (s,) in cursor.fetchall() if s.startswith('INSERT INTO "audit_auditevent"')
        ]
    assert len(inserts) == 1
    assert [(e.action, e.object_id, e.patient_id) for e in events()] == [
        ("read", str(ada.pk), ada.pk)
    ] * 3
    assert audit_chain_verify().ok


@requires_postgres
def test_if_the_audit_write_fails_after_it_was_prepared_the_api_still_answers_503(
    reception_api, ada
):
    # A prepared INSERT must not keep writing somewhere once its table is gone.
    assert reception_api.get(f"/api/v1/patients/{ada.pk}/").status_code == 200
    break_the_audit_table()

    response = reception_api.get(f"/api/v1/patients/{ada.pk}/")

    assert response.status_code == 503
    assert b"Zzyzxlovelace" not in response.content


def test_if_the_audit_write_fails_the_chart_answers_503_with_no_data(reception_user, ada):
    client = Client()
    client.force_login(reception_user)
    break_the_audit_table()

    response = client.get(f"/patients/{ada.pk}/")

    assert response.status_code == 503
    assert b"Zzyzxlovelace" not in response.content


def test_if_the_audit_write_fails_a_change_is_not_kept(reception_api, ada):
    break_the_audit_table()
    response = reception_api.patch(
        f"/api/v1/patients/{ada.pk}/", {"preferred_name": "Countess"}, format="json"
    )

    assert response.status_code == 503
    ada.refresh_from_db()
    assert ada.preferred_name != "Countess"


def test_if_the_audit_write_fails_a_staff_page_keeps_no_change(reception_user):
    client = Client()
    client.force_login(reception_user)
    break_the_audit_table()

    response = client.post(
        "/patients/new/",
        {
            "given_name": "Grace",
            "family_name": "Hopper",
            "date_of_birth": "1906-12-09",
            "sex": "female",
            "funding_type": "private",
        },
    )

    assert response.status_code == 503
    assert not Patient.objects.filter(family_name="Hopper").exists()


def test_audit_verify_reports_an_intact_chain(reception_api, ada):
    for _ in range(3):
        reception_api.get(f"/api/v1/patients/{ada.pk}/")
    out = StringIO()

    call_command("audit_verify", stdout=out)

    assert "3 events verified (3 newly sealed)" in out.getvalue()


def test_events_committed_after_a_seal_join_the_chain_in_the_next(reception_api, ada):
    reception_api.get(f"/api/v1/patients/{ada.pk}/")
    assert audit_seal_task() == 1
    reception_api.get(f"/api/v1/patients/{ada.pk}/")

    assert audit_seal() == 1
    assert audit_seal() == 0
    assert [e.seq for e in events()] == [1, 2]
    assert audit_chain_verify().checked == 2


def _without_append_only_trigger():
    # Tampering needs the trigger out of the way, as an attacker with superuser would.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")


def test_an_edited_event_breaks_the_chain_at_that_event(reception_api, ada):
    for _ in range(3):
        reception_api.get(f"/api/v1/patients/{ada.pk}/")
    audit_seal()
    middle = events()[1]

    _without_append_only_trigger()
    AuditEvent.objects.filter(pk=middle.pk).update(action="search")

    assert audit_chain_verify().first_broken_id == middle.pk
    with pytest.raises(CommandError, match=f"broken at event {middle.pk}"):
        call_command("audit_verify", stdout=StringIO())


def test_a_deleted_event_breaks_the_chain_at_the_next_one(reception_api, ada):
    for _ in range(3):
        reception_api.get(f"/api/v1/patients/{ada.pk}/")
    audit_seal()
    _first, middle, last = events()

    _without_append_only_trigger()
    AuditEvent.objects.filter(pk=middle.pk).delete()

    report = audit_chain_verify()
    assert report.first_broken_id == last.pk
    assert report.checked == 1


@requires_postgres
def test_postgres_refuses_to_update_or_delete_audit_events(reception_api, ada):
    reception_api.get(f"/api/v1/patients/{ada.pk}/")

    # Unsealed: only sealing may touch it, and only its chain fields.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.update(action="search", seq=1, hash="x")
    audit_seal()
    # Sealed: nothing at all.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.update(action="search")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.update(hash="0" * 64)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.all().delete()

    assert AuditEvent.objects.get().action == "read"
    assert audit_chain_verify().first_broken_id is None


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_unbroken_chain(rf):
    patient = PatientFactory()
    writers, per_writer = 10, 5
    barrier = threading.Barrier(writers)

    def write() -> None:
        try:
            barrier.wait()
            for _ in range(per_writer):
                request = rf.get("/")
                audit_record(
                    request=request,
                    action="read",
                    targets=[Target("patients.patient", str(patient.pk), patient.pk)],
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    sealers = [
        threading.Thread(target=lambda: (audit_seal(), connection.close())) for _ in range(3)
    ]
    for t in sealers:
        t.start()
    for t in sealers:
        t.join()
    audit_seal()

    report = audit_chain_verify()
    assert report.first_broken_id is None
    assert report.checked == writers * per_writer


def test_admins_read_who_accessed_a_record(admin_api, reception_api, reception_user, ada):
    reception_api.get(f"/api/v1/patients/{ada.pk}/")
    reception_api.get(f"/api/v1/patients/{PatientFactory().pk}/")

    response = admin_api.get("/api/v1/audit-events/", {"patient": ada.pk})

    [row] = response.json()["results"]
    assert row["actor"] == reception_user.pk
    assert row["action"] == "read"


def test_who_accessed_a_record_includes_the_lists_that_showed_it(
    admin_api, reception_api, reception_user, ada
):
    # Given reception listed every patient (one event naming several) and another patient
    # was read on their own
    other = PatientFactory()
    reception_api.get("/api/v1/patients/")
    reception_api.get(f"/api/v1/patients/{other.pk}/")

    # When an admin asks who accessed Ada's record
    response = admin_api.get("/api/v1/audit-events/", {"patient": ada.pk})

    # Then the list is there, naming Ada among the patients it showed, and nothing else
    [row] = response.json()["results"]
    assert (row["actor"], row["action"], row["patient"]) == (reception_user.pk, "read", None)
    assert row["patient_ids"] == sorted([ada.pk, other.pk])
    assert str(ada.pk) in row["object_ids"]


def test_reception_cannot_read_the_audit_trail(reception_api):
    assert reception_api.get("/api/v1/audit-events/").status_code == 403


def test_beat_schedules_sealing_with_a_task_celery_knows(settings):
    from nexus.celery import app

    app.loader.import_default_modules()

    assert settings.CELERY_BEAT_SCHEDULE["audit-seal"]["task"] in app.tasks


@pytest.fixture
def admin_client_for(db):
    client = Client()
    # The admin site is for superusers only (accounts.admin_site).
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_admin_list_records_the_patients_shown_in_one_event(admin_client_for, ada):
    other = PatientFactory()

    admin_client_for.get("/admin/patients/patient/", {"q": "Zzyzx"})
    admin_client_for.get("/admin/patients/patient/")

    searched, listed = events()
    assert (searched.action, searched.patient_id) == ("search", ada.pk)
    assert (listed.action, listed.patient_ids) == ("read", sorted([ada.pk, other.pk]))
    assert all(e.detail == {"view": "admin"} for e in events())


def test_opening_and_saving_a_patient_in_the_admin_is_recorded(admin_client_for, ada):
    url = f"/admin/patients/patient/{ada.pk}/change/"
    page = admin_client_for.get(url)
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(
        {"alerts": "Latex allergy", "given_name": ada.given_name, "family_name": ada.family_name}
    )
    data = {k: (v.pk if hasattr(v, "pk") else v) for k, v in data.items()}

    saved = admin_client_for.post(url, data)

    assert saved.status_code == 302, (
        getattr(saved, "context", None) and saved.context["adminform"].form.errors
    )
    assert [(e.action, e.patient_id) for e in events()] == [("read", ada.pk), ("update", ada.pk)]


def test_patients_cannot_be_deleted_in_the_admin(admin_client_for, ada):
    response = admin_client_for.post(f"/admin/patients/patient/{ada.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert type(ada).objects.filter(pk=ada.pk).exists()


def test_a_patients_admin_history_page_is_recorded_as_a_read(admin_client_for, ada):
    response = admin_client_for.get(f"/admin/patients/patient/{ada.pk}/history/")

    assert response.status_code == 200
    assert [(e.action, e.patient_id, e.detail) for e in events()] == [
        ("read", ada.pk, {"view": "admin", "page": "history"})
    ]
