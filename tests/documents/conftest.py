from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

BUCKET = "nexus-test-documents"
REGION = "ap-southeast-2"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 in server mode: real HTTP on 127.0.0.1, spoken to by boto3."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint, settings):
    """Documents go to a fresh private bucket through django-storages' S3 backend,
    configured as production is (nexus/settings.py), pointed at moto."""
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)
    for existing in client.list_buckets().get("Buckets", []):
        for item in client.list_objects_v2(Bucket=existing["Name"]).get("Contents", []):
            client.delete_object(Bucket=existing["Name"], Key=item["Key"])
        client.delete_bucket(Bucket=existing["Name"])
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                **settings.NEXUS_S3_OPTIONS,
                "bucket_name": BUCKET,
                "region_name": REGION,
                "endpoint_url": moto_endpoint,
                "addressing_style": "path",
            },
        },
    }
    return client
