"""Scheduled backups (issue 15 item 6): the compose host's nightly dump really dumps and
prunes, and the cloud schedules (Cloud SQL export, AWS Backup plan) are what their APIs
accept, with the plans' retention; a broken copy of each fails."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from django.db import connection

from deploy.tools import databases, parity
from tests.conftest import requires_postgres

FOLDER = databases.FOLDER
DAY = 24 * 60 * 60


def backup_script(tmp_path: Path) -> str:
    """The compose `backup` service's script, pointed at the test database and a folder,
    for one round with no waiting. Each piece replaced must be there, so a change to the
    service's shape fails here rather than passing untested."""
    service = yaml.safe_load((parity.ROOT / "docker-compose.yml").read_text())["services"]["backup"]
    assert service["image"].startswith("postgres:16"), "pg_dump of the server's version"
    assert "backups:/backups" in service["volumes"]
    script = service["command"][0].replace("$$", "$")  # compose's escape for a literal $
    s = connection.settings_dict
    for old, new in [
        ("while true; do", "for round in once; do"),
        ("sleep $(( (86400 + 15 * 3600 + 1800 - now % 86400) % 86400 ))", ":"),
        ("sleep 60", ":"),
        ("--host=postgres", f"--host={s['HOST'] or '127.0.0.1'} --port={s['PORT'] or 5432}"),
        ("--username=nexus", f"--username={s['USER']}"),
        ("--dbname=nexus", f"--dbname={s['NAME']}"),
        ("/backups", str(tmp_path)),
    ]:
        assert old in script, old
        script = script.replace(old, new)
    return script


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_the_compose_backup_writes_a_restorable_dump_and_prunes_old_ones(tmp_path):
    old = tmp_path / "nexus-20200101T153000Z.dump"
    recent = tmp_path / "nexus-20200201T153000Z.dump"
    for path, age_days in ((old, 40), (recent, 10)):
        path.write_bytes(b"an earlier dump")
        os.utime(path, (time.time() - age_days * DAY,) * 2)
    environment = {
        "PATH": os.environ["PATH"],
        "POSTGRES_PASSWORD": connection.settings_dict["PASSWORD"] or "",
    }

    done = subprocess.run(  # noqa: S603
        ["/bin/sh", "-c", backup_script(tmp_path)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    dumps = sorted(tmp_path.glob("nexus-*.dump"))
    (new,) = [d for d in dumps if d not in (old, recent)]
    assert not old.exists(), "dumps older than 35 days are deleted"
    assert recent.exists()
    assert not list(tmp_path.glob("*.partial"))
    listing = subprocess.run(  # noqa: S603
        ["pg_restore", "--list", str(new)],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    )
    assert "TABLE DATA public patients_patient" in listing.stdout
    assert f"backup: {new.name} written" in done.stdout


def test_the_scheduled_backup_files_pass():
    assert databases.cloudsql_export(FOLDER / "cloudsql-export.json") == []
    assert databases.aws_backup_plan(FOLDER / "aws-backup-plan.json") == []


def mutated(tmp_path: Path, name: str, change) -> Path:
    doc = json.loads((FOLDER / name).read_text())
    change(doc)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_an_export_that_loads_the_serving_instance_fails(tmp_path):
    def online(doc):
        doc["exportContext"]["offload"] = False
        doc["exportContext"]["fileTyp"] = doc["exportContext"].pop("fileType")

    errors = databases.cloudsql_export(mutated(tmp_path, "cloudsql-export.json", online))

    assert any("offload: true" in e for e in errors)
    assert any("'fileTyp' was unexpected" in e for e in errors)


def test_a_backup_plan_aws_would_refuse_or_keep_too_briefly_fails(tmp_path):
    def week(doc):
        rule = doc["BackupPlan"]["Rules"][0]
        rule["Lifecycle"]["DeleteAfterDays"] = 7
        rule["StartWindowMinutes"] = "sixty"

    errors = databases.aws_backup_plan(mutated(tmp_path, "aws-backup-plan.json", week))

    assert any("kept 35 days" in e for e in errors)
    assert any("parameter BackupPlan.Rules[0].StartWindowMinutes" in e for e in errors)


def test_a_copy_in_the_same_region_fails(tmp_path):
    def same_region(doc):
        copy = doc["BackupPlan"]["Rules"][0]["CopyActions"][0]
        copy["DestinationBackupVaultArn"] = copy["DestinationBackupVaultArn"].replace(
            "${DR_AWS_REGION}", "${AWS_REGION}"
        )

    errors = databases.aws_backup_plan(mutated(tmp_path, "aws-backup-plan.json", same_region))

    assert any("another region" in e for e in errors)
