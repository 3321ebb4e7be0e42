"""Backup settings of the managed databases and the backup bucket (deploy/backup/*.json),
checked against the APIs that take them: RDS ModifyDBInstance and S3's lifecycle
configuration through botocore's model, Cloud SQL's DatabaseInstance through the SQL Admin
discovery document. The plans' figures are rules: 35 days on RDS, 7 days of PITR logs on
Cloud SQL (with a daily backup more than that), dumps kept 35 days."""

import json
from pathlib import Path
from typing import Any

import jsonschema
from botocore.model import Shape
from botocore.validate import ParamValidator

from deploy.tools.ecs import model
from deploy.tools.manifests import as_dict, discovery_schema

FOLDER = Path(__file__).resolve().parents[1] / "backup"


def _botocore(service: str, operation: str, params: dict[str, Any], member: str = "") -> list[str]:
    shape: Shape | None = model(service).operation_model(operation).input_shape
    assert shape is not None  # noqa: S101 - both calls take input
    if member:
        shape = shape.members[member]  # type: ignore[attr-defined]
    report = ParamValidator().validate(params, shape)
    return report.generate_report().splitlines() if report.has_errors() else []


def rds(path: Path) -> list[str]:
    params = json.loads(path.read_text())
    errors = _botocore("rds", "ModifyDBInstance", params)
    if params.get("BackupRetentionPeriod") != 35:
        errors.append("RDS keeps automated backups and PITR logs 35 days (BackupRetentionPeriod)")
    if params.get("DeletionProtection") is not True:
        errors.append("RDS needs DeletionProtection: a deleted instance takes its backups along")
    return [f"{path.name}: {e}" for e in errors]


def cloudsql(path: Path) -> list[str]:
    body = json.loads(path.read_text())
    validator = jsonschema.Draft202012Validator(discovery_schema("sqladmin.v1", "DatabaseInstance"))
    errors = [
        f"{'.'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
        for e in validator.iter_errors(body)
    ]
    backups = as_dict(as_dict(body.get("settings")).get("backupConfiguration"))
    if not (backups.get("enabled") and backups.get("pointInTimeRecoveryEnabled")):
        errors.append("Cloud SQL needs daily backups and point-in-time recovery enabled")
    if backups.get("transactionLogRetentionDays") != 7:
        errors.append("Cloud SQL keeps 7 days of PITR logs (transactionLogRetentionDays)")
    retained = as_dict(backups.get("backupRetentionSettings")).get("retainedBackups", 0)
    if retained < 8:
        errors.append("keep more daily backups than days of logs (retainedBackups >= 8)")
    return [f"{path.name}: {e}" for e in errors]


def lifecycle(path: Path) -> list[str]:
    params = json.loads(path.read_text())
    errors = _botocore("s3", "PutBucketLifecycleConfiguration", params, "LifecycleConfiguration")
    expiring = [
        rule
        for rule in params.get("Rules", [])
        if rule.get("Status") == "Enabled" and as_dict(rule.get("Expiration")).get("Days") == 35
    ]
    if not expiring:
        errors.append("an enabled rule must delete backups after 35 days")
    return [f"{path.name}: {e}" for e in errors]


def check(folder: Path = FOLDER) -> list[str]:
    return [
        *rds(folder / "rds-backups.json"),
        *cloudsql(folder / "cloudsql-backups.json"),
        *lifecycle(folder / "s3-lifecycle.json"),
    ]
