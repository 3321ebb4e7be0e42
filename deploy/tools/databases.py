"""Backup settings of the managed databases and the backup bucket (deploy/backup/*.json),
checked against the APIs that take them: RDS ModifyDBInstance, S3's lifecycle
configuration and AWS Backup's CreateBackupPlan through botocore's model, Cloud SQL's
DatabaseInstance and its export request through the SQL Admin discovery document. The
plans' figures are rules: 35 days on RDS, 7 days of PITR logs on Cloud SQL (with a daily
backup more than that), dumps and copies kept 35 days, a copy in another region."""

import json
from pathlib import Path
from typing import Any

import jsonschema
from botocore.model import Shape
from botocore.validate import ParamValidator

from deploy.tools.ecs import model
from deploy.tools.manifests import PLACEHOLDERS, as_dict, discovery_schema, render

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


def cloudsql_export(path: Path) -> list[str]:
    """The body Cloud Scheduler posts nightly to Cloud SQL's instances.export."""
    text, errors = render(path.read_text())
    body = json.loads(text)
    validator = jsonschema.Draft202012Validator(
        discovery_schema("sqladmin.v1", "InstancesExportRequest")
    )
    errors += [
        f"{'.'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
        for e in validator.iter_errors(body)
    ]
    context = as_dict(body.get("exportContext"))
    if not str(context.get("uri", "")).startswith("gs://"):
        errors.append("the export goes to a Cloud Storage object (gs://…)")
    if context.get("offload") is not True:
        errors.append("offload: true, so the export does not load the serving instance")
    return [f"{path.name}: {e}" for e in errors]


def aws_backup_plan(path: Path) -> list[str]:
    text, errors = render(path.read_text())
    params = json.loads(text)
    errors += _botocore("backup", "CreateBackupPlan", params)
    rules = as_dict(params.get("BackupPlan")).get("Rules", [])
    if not rules or not all(
        str(r.get("ScheduleExpression", "")).startswith("cron(") for r in rules
    ):
        errors.append("every rule runs on a schedule (ScheduleExpression: cron(...))")
    for rule in rules:
        if as_dict(rule.get("Lifecycle")).get("DeleteAfterDays") != 35:
            errors.append(f"{rule.get('RuleName')}: recovery points are kept 35 days")
        regions = {
            str(c.get("DestinationBackupVaultArn", "")).split(":")[3:4][0]
            for c in rule.get("CopyActions", [])
            if str(c.get("DestinationBackupVaultArn", "")).startswith("arn:aws:backup:")
        }
        if not regions - {PLACEHOLDERS["AWS_REGION"]}:
            errors.append(f"{rule.get('RuleName')}: copy each recovery point to another region")
    return [f"{path.name}: {e}" for e in errors]


def check(folder: Path = FOLDER) -> list[str]:
    return [
        *rds(folder / "rds-backups.json"),
        *cloudsql(folder / "cloudsql-backups.json"),
        *lifecycle(folder / "s3-lifecycle.json"),
        *cloudsql_export(folder / "cloudsql-export.json"),
        *aws_backup_plan(folder / "aws-backup-plan.json"),
    ]
