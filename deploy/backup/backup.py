"""A logical backup of DATABASE_URL to object storage, on top of the managed database's
own PITR (deploy/README.md, "Backups"):

    DATABASE_URL=… NEXUS_BACKUP_BUCKET=nexus-backups python -m deploy.backup.backup

pg_dump's custom format (compressed; restores table by table, in parallel) is uploaded
with server-side encryption under a KMS key of its own (NEXUS_BACKUP_KMS_KEY_ID; the
bucket's default key when empty) as `<prefix><database>-<UTC time>.dump`. The bucket's
lifecycle rule (deploy/backup/s3-lifecycle.json) deletes dumps after 35 days.
"""

import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import boto3

from deploy.backup import pg


def backup(
    *,
    url: str,
    bucket: str,
    prefix: str = "postgres/",
    kms_key_id: str = "",
    endpoint_url: str | None = None,
    region: str | None = None,
) -> str:
    """Dump and upload; returns the object's key."""
    client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    key = f"{prefix}{pg.database_name(url)}-{stamp}.dump"
    extra = {"ServerSideEncryption": "aws:kms", "ContentType": "application/octet-stream"}
    if kms_key_id:
        extra["SSEKMSKeyId"] = kms_key_id
    with tempfile.TemporaryDirectory(prefix="nexus-backup-") as folder:
        target = Path(folder) / "nexus.dump"
        snapshot = pg.dump(url, target)
        client.upload_file(
            str(target),
            bucket,
            key,
            ExtraArgs={
                **extra,
                "Metadata": {
                    "snapshot-at": snapshot.taken_at.isoformat(),
                    "rows": str(sum(snapshot.counts.values())),
                },
            },
        )
    return key


def main() -> int:
    url, bucket = os.environ.get("DATABASE_URL", ""), os.environ.get("NEXUS_BACKUP_BUCKET", "")
    if not url or not bucket:
        print("set DATABASE_URL and NEXUS_BACKUP_BUCKET", file=sys.stderr)
        return 2
    key = backup(
        url=url,
        bucket=bucket,
        prefix=os.environ.get("NEXUS_BACKUP_PREFIX", "postgres/"),
        kms_key_id=os.environ.get("NEXUS_BACKUP_KMS_KEY_ID", ""),
        endpoint_url=os.environ.get("AWS_S3_ENDPOINT_URL") or None,
        region=os.environ.get("AWS_S3_REGION_NAME") or None,
    )
    print(f"uploaded s3://{bucket}/{key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
