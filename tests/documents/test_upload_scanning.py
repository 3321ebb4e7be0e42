"""Uploads: macro-bearing Word files and zip bombs are refused; with NEXUS_CLAMAV_SOCKET set
every upload is scanned by clamd (here a local fake that flags EICAR) and a flagged file is
quarantined: kept out of the patient's documents, visible to admins, audited (issue 12
item 9, security.md R29/R30)."""

import io
import zipfile

import pytest
from django.test import Client

from audit.models import AuditEvent
from documents.models import Document, QuarantinedUpload
from tests.documents.corpus import docx, pdf
from tests.documents.test_documents import upload
from tests.factories import PatientFactory, UserFactory
from tests.fakes.clamd import EICAR, closed_tcp_address, fake_clamd

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(db):
    return PatientFactory()


def word_file(**extra_members: bytes) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(docx())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for member in source.infolist():
            archive.writestr(member, source.read(member))
        for name, content in extra_members.items():
            archive.writestr(name, content)
    return out.getvalue()


def eicar_pdf() -> bytes:
    # A valid PDF that carries the EICAR string in a comment, as the attack did.
    return pdf().replace(b"%%EOF", b"%" + EICAR + b"\n%%EOF")


def test_a_word_file_with_macros_is_refused(local_media, reception_api, ada):
    response = upload(
        reception_api, ada.pk, "letter.docx", word_file(**{"word/vbaProject.bin": b"\xd0\xcf"})
    )

    assert response.status_code == 400
    assert response.json()["code"] == "file_macros"
    assert not Document.objects.exists()


def test_a_word_file_that_inflates_hugely_is_refused(local_media, reception_api, ada):
    bomb = word_file(**{"word/media/filler.xml": b"\0" * (40 * 1024 * 1024)})
    assert len(bomb) < 200_000  # 40 MB of zeros compresses to almost nothing

    response = upload(reception_api, ada.pk, "report.docx", bomb)

    assert response.status_code == 400
    assert response.json()["code"] == "file_archive_bomb"
    assert not Document.objects.exists()


def test_an_ordinary_word_file_is_still_accepted(local_media, reception_api, ada):
    text = b"<w:p>" + b"Plain text of a referral letter. " * 20_000 + b"</w:p>"

    response = upload(reception_api, ada.pk, "letter.docx", word_file(**{"word/extra.xml": text}))

    assert response.status_code == 201, response.json()


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_eicar_in_a_valid_pdf_is_quarantined_not_filed(
    local_media, reception_api, reception_user, ada, settings, tmp_path, transport
):
    unix_path = str(tmp_path / "clamd.sock") if transport == "unix" else None
    with fake_clamd(unix_path=unix_path) as (address, scanned):
        settings.NEXUS_CLAMAV_SOCKET = address
        response = upload(reception_api, ada.pk, "referral.pdf", eicar_pdf())

    assert scanned == [len(eicar_pdf())]
    assert response.status_code == 400
    assert response.json()["code"] == "file_infected"
    assert not Document.objects.exists()
    held = QuarantinedUpload.objects.get()
    assert (held.patient, held.uploaded_by, held.signature) == (
        ada,
        reception_user,
        "Eicar-Test-Signature",
    )
    assert held.file.name.startswith("quarantine/")
    assert reception_api.get(f"/api/v1/patients/{ada.pk}/documents/").json()["results"] == []
    event = AuditEvent.objects.get(object_type="documents.quarantinedupload")
    assert (event.patient_id, event.outcome, event.detail["reason"]) == (
        ada.pk,
        "denied",
        "malware",
    )


def test_a_clean_file_is_scanned_and_filed(local_media, reception_api, ada, settings):
    with fake_clamd() as (address, scanned):
        settings.NEXUS_CLAMAV_SOCKET = address
        response = upload(reception_api, ada.pk, "referral.pdf", pdf())

    assert response.status_code == 201
    assert len(scanned) == 1
    assert not QuarantinedUpload.objects.exists()


def test_with_the_scanner_down_nothing_is_stored(local_media, reception_api, ada, settings):
    settings.NEXUS_CLAMAV_SOCKET = closed_tcp_address()

    response = upload(reception_api, ada.pk, "referral.pdf", pdf())

    assert response.status_code == 503
    assert response.json()["code"] == "scanner_unavailable"
    assert not Document.objects.exists()
    assert not QuarantinedUpload.objects.exists()


def test_superusers_see_quarantined_uploads_in_the_admin(local_media, reception_api, ada, settings):
    with fake_clamd() as (address, _):
        settings.NEXUS_CLAMAV_SOCKET = address
        upload(reception_api, ada.pk, "referral.pdf", eicar_pdf())
    admin = Client()
    admin.force_login(UserFactory(role="practice_admin", is_staff=True, is_superuser=True))

    page = admin.get("/admin/documents/quarantinedupload/")

    assert page.status_code == 200
    assert "Eicar-Test-Signature" in page.content.decode()
