"""Backups and the restore drill (issue 15 item 6)."""

import json
import subprocess
from pathlib import Path

import boto3
import pytest
from django.db import connection
from moto.server import ThreadedMotoServer

from deploy.backup import backup, drill, pg
from deploy.tools import databases
from tests.conftest import requires_postgres
from tests.factories import PatientFactory

FOLDER = databases.FOLDER


def database_url() -> str:
    """The test database as a DATABASE_URL."""
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    return f"postgres://{s['USER']}{password}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"


def test_the_managed_database_and_bucket_settings_pass():
    assert databases.check() == []


def mutated(tmp_path: Path, name: str, change) -> Path:
    doc = json.loads((FOLDER / name).read_text())
    change(doc)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_a_shorter_rds_retention_fails(tmp_path):
    def week(doc):
        doc["BackupRetentionPeriod"] = 7

    assert databases.rds(mutated(tmp_path, "rds-backups.json", week)) == [
        "rds-backups.json: RDS keeps automated backups and PITR logs 35 days "
        "(BackupRetentionPeriod)"
    ]


def test_a_misspelt_cloud_sql_field_fails(tmp_path):
    def typo(doc):
        config = doc["settings"]["backupConfiguration"]
        config["pointInTimeRecovery"] = config.pop("pointInTimeRecoveryEnabled")

    errors = databases.cloudsql(mutated(tmp_path, "cloudsql-backups.json", typo))

    assert any("'pointInTimeRecovery' was unexpected" in e for e in errors)
    assert any("point-in-time recovery enabled" in e for e in errors)


def test_a_lifecycle_rule_the_s3_api_refuses_fails(tmp_path):
    def text(doc):
        doc["Rules"][0]["Expiration"]["Days"] = "35"

    errors = databases.lifecycle(mutated(tmp_path, "s3-lifecycle.json", text))

    assert any("Invalid type for parameter Rules[0].Expiration.Days" in e for e in errors)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_the_restore_drill_restores_checks_and_reports_its_figures(capsys):
    PatientFactory.create_batch(3)
    url = database_url()

    code = drill.drill(url)

    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "row counts: all equal" in out
    assert "migrations: ok" in out
    assert "audit trail: ok" in out
    assert "RTO " in out and "RPO " in out
    # The scratch copy is gone again.
    drill_name = f"{pg.database_name(url)}_drill"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [drill_name])
        assert cursor.fetchone()[0] == 0


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_the_restore_drill_fails_when_the_copy_differs(capsys, monkeypatch):
    PatientFactory.create_batch(2)
    real_restore = pg.restore

    def restore_then_lose_a_patient(source, url, jobs=2):
        real_restore(source, url, jobs)
        with pg.psycopg.connect(pg.libpq_url(url), autocommit=True) as copy:
            copy.execute("ALTER TABLE patients_patient DISABLE TRIGGER ALL")
            copy.execute(
                "DELETE FROM patients_patient WHERE id = (SELECT min(id) FROM patients_patient)"
            )

    monkeypatch.setattr(pg, "restore", restore_then_lose_a_patient)
    # Only the row counts matter here; the Django checks are the test above's.
    monkeypatch.setattr(drill, "manage", lambda *a, **k: subprocess.CompletedProcess([], 0, "", ""))

    code = drill.drill(database_url())

    assert code == 1
    assert "row counts differ" in capsys.readouterr().err


@pytest.fixture
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_backup_is_uploaded_encrypted_and_restorable(s3_endpoint, tmp_path):
    PatientFactory.create_batch(2)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="ap-southeast-2")
    client.create_bucket(
        Bucket="nexus-backups",
        CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"},
    )

    key = backup.backup(
        url=database_url(),
        bucket="nexus-backups",
        kms_key_id="alias/nexus-backups",
        endpoint_url=s3_endpoint,
        region="ap-southeast-2",
    )

    head = client.head_object(Bucket="nexus-backups", Key=key)
    assert key.startswith(f"postgres/{connection.settings_dict['NAME']}-")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert int(head["Metadata"]["rows"]) >= 2
    client.download_file("nexus-backups", key, str(tmp_path / "nexus.dump"))
    listing = subprocess.run(  # noqa: S603
        [pg.tool("pg_restore"), "--list", str(tmp_path / "nexus.dump")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "TABLE DATA public patients_patient" in listing


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_restored_copy_with_migrations_left_to_apply_fails_and_says_so(capsys, monkeypatch):
    # `migrate --check` exits 1 without a word when migrations are pending (a database
    # migrated by an older release than the code running the drill).
    def pending(url, *args, **kwargs):
        quiet_failure = "migrate" in args
        return subprocess.CompletedProcess([], 1 if quiet_failure else 0, "", "")

    monkeypatch.setattr(drill, "manage", pending)

    code = drill.drill(database_url())

    assert code == 1
    assert "FAIL migrations: exit status 1" in capsys.readouterr().err
