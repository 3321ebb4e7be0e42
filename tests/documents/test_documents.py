"""Patient documents: validated uploads to private S3 (moto server mode, real boto3 and
django-storages over HTTP), short-lived presigned downloads, soft delete, purge and
integrity checks, every access audited and hidden (404) from those who may not see it."""

import logging
import re
import uuid
from io import StringIO
from urllib.parse import parse_qs, quote, urlparse

import pytest
import requests
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiToken
from audit.models import AuditEvent
from documents.models import Document
from tests.documents.conftest import BUCKET
from tests.documents.corpus import BAD, GOOD, pdf
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def multipart(filename: str, content: bytes, **fields: str) -> tuple[bytes, str]:
    """A multipart body with the file name exactly as given (RFC 2231 encoded, as browsers
    escape odd characters), which Django's test client would otherwise tidy up first."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in {"category": "referral", **fields}.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f"filename*=UTF-8''{quote(filename, safe='')}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    return b"".join(
        parts
    ) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload(api: APIClient, patient_id: int, filename: str, content: bytes, **fields: str):
    body, content_type = multipart(filename, content, **fields)
    return api.generic("POST", f"/api/v1/patients/{patient_id}/documents/", body, content_type)


@pytest.fixture
def ada(db):
    return PatientFactory(given_name="Ada", family_name="Lovelace")


def test_an_upload_lands_encrypted_in_the_bucket_under_a_server_made_key(s3, reception_api, ada):
    response = upload(
        reception_api, ada.pk, "Referral from Dr Who.pdf", pdf(), description="GP letter"
    )

    assert response.status_code == 201, response.json()
    document = Document.objects.get()
    assert re.fullmatch(rf"patients/{ada.pk}/[0-9a-f]{{32}}", document.file.name)
    assert "Referral" not in document.file.name  # the name is metadata, never the key
    stored = s3.head_object(Bucket=BUCKET, Key=document.file.name)
    assert stored["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=BUCKET, Key=document.file.name)["Body"].read() == pdf()
    body = response.json()
    assert (body["original_name"], body["content_type"], body["size"]) == (
        "Referral from Dr Who.pdf",
        "application/pdf",
        len(pdf()),
    )
    event = AuditEvent.objects.get(action="create", object_type="documents.document")
    assert event.patient_id == ada.pk


def test_the_presigned_link_returns_the_same_bytes_and_dies_within_300_seconds(
    s3, clinician_api, ada, caplog
):
    upload(clinician_api, ada.pk, "scan.pdf", pdf("Imaging report"))
    document = Document.objects.get()

    with caplog.at_level(logging.DEBUG):
        response = clinician_api.get(f"/api/v1/documents/{document.pk}/download/")

    assert response.status_code == 302
    url = response["Location"]
    query = parse_qs(urlparse(url).query)
    assert int(query["X-Amz-Expires"][0]) <= 300
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["response-content-disposition"][0].startswith("attachment;")
    assert 'filename="scan.pdf"' in query["response-content-disposition"][0]
    fetched = requests.get(url, timeout=10)  # a plain HTTP client, as a browser would
    assert fetched.status_code == 200
    assert fetched.content == pdf("Imaging report")
    assert fetched.headers["Content-Disposition"].startswith("attachment;")
    # The link is neither logged nor stored.
    assert url.split("?")[1] not in caplog.text
    assert not AuditEvent.objects.filter(detail__icontains="X-Amz").exists()
    export = AuditEvent.objects.get(action="export")
    assert (export.patient_id, export.object_id) == (ada.pk, str(document.pk))


@pytest.mark.parametrize("filename", sorted(GOOD))
def test_each_allowed_type_is_accepted(local_media, reception_api, ada, filename):
    response = upload(reception_api, ada.pk, filename, GOOD[filename])

    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(("filename", "content", "code"), BAD, ids=[repr(b[0]) for b in BAD])
def test_bad_uploads_are_refused_with_a_reason_and_nothing_is_stored(
    local_media, reception_api, ada, filename, content, code
):
    response = upload(reception_api, ada.pk, filename, content)

    assert response.status_code in (400, 413)
    assert response.json()["code"] == code
    assert response.json()["errors"]["file"]
    assert not Document.objects.exists()
    assert not any(p.is_file() for p in local_media.rglob("*")) if local_media.exists() else True


def test_a_file_over_the_size_limit_is_refused(local_media, reception_api, ada, settings):
    settings.NEXUS_DOCUMENT_MAX_MB = 1
    big = pdf() + b"%" * (1024 * 1024)

    response = upload(reception_api, ada.pk, "big.pdf", big)

    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert "limit is 1 MB" in response.json()["detail"]
    assert not Document.objects.exists()


def test_the_same_file_twice_for_one_patient_is_reported_not_stored(s3, reception_api, ada):
    first = upload(reception_api, ada.pk, "referral.pdf", pdf())
    again = upload(reception_api, ada.pk, "referral (1).pdf", pdf())
    other_patient = upload(reception_api, PatientFactory().pk, "referral.pdf", pdf())

    assert (first.status_code, again.status_code, other_patient.status_code) == (201, 409, 201)
    assert again.json()["code"] == "duplicate_document"
    assert str(first.json()["id"]) in again.json()["detail"]
    assert len(s3.list_objects_v2(Bucket=BUCKET)["Contents"]) == 2


def test_a_bad_category_is_refused(local_media, reception_api, ada):
    response = upload(reception_api, ada.pk, "referral.pdf", pdf(), category="gossip")

    assert response.status_code == 400
    assert "category" in response.json()["errors"]
    assert not Document.objects.exists()


def test_listing_is_paginated_filterable_and_costs_a_fixed_number_of_queries(
    local_media, reception_api, ada, django_assert_num_queries
):
    for i in range(6):
        upload(reception_api, ada.pk, f"r{i}.pdf", pdf(f"letter {i}"), category="referral")
    upload(reception_api, ada.pk, "photo.png", GOOD["wound.png"], category="image")
    url = f"/api/v1/patients/{ada.pk}/documents/"

    with django_assert_num_queries(4):  # patient, count, page, audit insert
        page = reception_api.get(url, {"page_size": 5})
    photos = reception_api.get(url, {"category": "image"})

    assert page.json()["count"] == 7
    assert len(page.json()["results"]) == 5
    assert [d["original_name"] for d in photos.json()["results"]] == ["photo.png"]
    # One event per page: the five on the first, the photo on its own.
    listed = AuditEvent.objects.filter(action="read", object_type="documents.document")
    assert sorted(len(e.object_ids) or 1 for e in listed) == [1, 5]


def test_local_storage_streams_the_file_as_an_attachment_after_the_same_checks(
    local_media, reception_api, ada
):
    upload(reception_api, ada.pk, "Ada's referral.pdf", pdf())
    document = Document.objects.get()

    response = reception_api.get(f"/api/v1/documents/{document.pk}/download/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pdf()
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/pdf"
    assert AuditEvent.objects.filter(action="export", patient=ada).count() == 1


def test_deleting_hides_the_document_and_purge_later_removes_the_object(s3, clinician_api, ada):
    upload(clinician_api, ada.pk, "referral.pdf", pdf())
    document = Document.objects.get()

    assert clinician_api.delete(f"/api/v1/documents/{document.pk}/").status_code == 204
    assert clinician_api.get(f"/api/v1/patients/{ada.pk}/documents/").json()["count"] == 0
    assert clinician_api.get(f"/api/v1/documents/{document.pk}/download/").status_code == 404
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1  # kept until the purge
    assert AuditEvent.objects.filter(action="delete", patient=ada).count() == 1
    # The same file can be uploaded again once the old copy is deleted.
    assert upload(clinician_api, ada.pk, "referral.pdf", pdf()).status_code == 201

    out = StringIO()
    call_command("purge_documents", "--days", "0", stdout=out)

    assert "Purged 1" in out.getvalue()
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1  # only the new upload
    document.refresh_from_db()
    assert document.purged_at is not None


def test_reception_cannot_delete_documents(local_media, reception_api, ada):
    upload(reception_api, ada.pk, "referral.pdf", pdf())
    document = Document.objects.get()

    assert reception_api.delete(f"/api/v1/documents/{document.pk}/").status_code == 404
    document.refresh_from_db()
    assert document.deleted_at is None


def test_verify_documents_reports_changed_and_missing_objects(s3, reception_api, ada):
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        upload(reception_api, ada.pk, name, pdf(name))
    a, b, c = Document.objects.order_by("original_name")
    out = StringIO()
    call_command("verify_documents", stdout=out)
    assert "All 3 document(s) are intact." in out.getvalue()

    s3.put_object(Bucket=BUCKET, Key=b.file.name, Body=b"tampered")
    s3.delete_object(Bucket=BUCKET, Key=c.file.name)
    out = StringIO()
    with pytest.raises(CommandError, match="2 of 3"):
        call_command("verify_documents", stdout=out)

    assert f"document {b.pk}: hash mismatch" in out.getvalue()
    assert f"document {c.pk}: missing" in out.getvalue()
    assert f"document {a.pk}" not in out.getvalue()


def test_people_without_access_get_404_for_list_upload_and_download(
    local_media, reception_api, ada
):
    upload(reception_api, ada.pk, "referral.pdf", pdf())
    document = Document.objects.get()
    outsider = APIClient()
    outsider.force_authenticate(UserFactory())  # a staff account with no role
    token_user = UserFactory(role="reception")
    _, raw = ApiToken.issue(user=token_user, name="patients only", scopes=["patients:read"])
    patients_only = APIClient()
    patients_only.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    for client in (outsider, patients_only):
        assert client.get(f"/api/v1/patients/{ada.pk}/documents/").status_code == 404
        assert upload(client, ada.pk, "other.pdf", pdf("other")).status_code == 404
        assert client.get(f"/api/v1/documents/{document.pk}/download/").status_code == 404
        assert client.get(f"/api/v1/documents/{document.pk}/").status_code == 404
    assert reception_api.get("/api/v1/patients/999999/documents/").status_code == 404
    assert Document.objects.count() == 1
    assert not AuditEvent.objects.filter(action="export").exists()


def test_anonymous_callers_are_refused(local_media, ada):
    response = APIClient().get(f"/api/v1/patients/{ada.pk}/documents/")
    assert response.status_code in (401, 403)
