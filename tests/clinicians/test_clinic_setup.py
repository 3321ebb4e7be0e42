"""Setup → Clinics: a practice admin keeps the letterhead details (address, phone, email,
ABN, logo); letters print them."""

import io
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from audit.models import AuditEvent
from clinicians.models import Clinic
from notes.letters import letter_create
from notes.services import note_sign
from tests.billing.test_pages import _pdf_text
from tests.factories import (
    ClinicalNoteFactory,
    ClinicFactory,
    ClinicianFactory,
    PatientFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ABN = "51 824 753 556"


def _image(fmt: str = "PNG", size: tuple[int, int] = (120, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 90, 160)).save(out, format=fmt)
    return out.getvalue()


def _browser(role: str) -> Client:
    browser = Client()
    browser.force_login(UserFactory(role=role))
    return browser


def _details(clinic: Clinic, **changes) -> dict:
    data = {
        "name": clinic.name,
        "address": "1 Quay St, Sydney NSW 2000",
        "phone": "02 9251 0000",
        "email": "hello@harbour.example",
        "abn": ABN,
        "timezone": "Australia/Sydney",
        "is_active": "on",
    }
    data.update(changes)
    return data


@pytest.fixture
def clinic(db):
    return ClinicFactory(name="Harbour Physio")


@pytest.mark.parametrize("role", ["reception", "clinician"])
def test_clinic_setup_is_closed_to_reception_and_clinicians(role, clinic, local_media):
    browser = _browser(role)

    pages = [
        browser.get("/setup/clinics/"),
        browser.get(f"/setup/clinics/{clinic.pk}/"),
        browser.post(f"/setup/clinics/{clinic.pk}/", _details(clinic, abn="")),
        browser.get("/setup/clinics/new/"),
    ]

    assert [p.status_code for p in pages] == [403, 403, 403, 403]
    clinic.refresh_from_db()
    assert clinic.address == ""


def test_an_admin_saves_the_letterhead_details_and_logo_audited(clinic, local_media):
    admin = _browser("practice_admin")
    logo = _image("PNG")

    response = admin.post(
        f"/setup/clinics/{clinic.pk}/",
        {**_details(clinic), "logo": SimpleUploadedFile("anything.bin", logo)},
    )

    assert response.status_code == 302
    clinic.refresh_from_db()
    assert clinic.abn == ABN and clinic.email == "hello@harbour.example"
    assert clinic.address == "1 Quay St, Sydney NSW 2000"
    assert clinic.phone.as_national == "(02) 9251 0000"
    # Stored through the default storage under a server-made key, not the upload's name.
    assert clinic.logo.name.startswith(f"clinics/{clinic.pk}/logo-")
    assert "anything" not in clinic.logo.name
    with default_storage.open(clinic.logo.name, "rb") as stored:
        assert stored.read() == logo
    event = AuditEvent.objects.get(object_type="clinicians.clinic", object_id=str(clinic.pk))
    assert event.detail["view"] == "clinic_edit"
    assert set(event.detail["fields"]) == {"address", "phone", "email", "abn", "logo"}
    page = admin.get(f"/setup/clinics/{clinic.pk}/").content.decode()
    assert f"/setup/clinics/{clinic.pk}/logo/" in page
    preview = admin.get(f"/setup/clinics/{clinic.pk}/logo/")
    assert preview["Content-Type"] == "image/png" and preview.content == logo


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("logo.png", b"GIF89a" + b"\x00" * 64, "PNG or JPEG"),
        ("logo.png", b"%PDF-1.4\n%%EOF\n", "PNG or JPEG"),
        ("logo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "damaged"),
        ("logo.jpg", b"\xff\xd8\xff" + b"\x00" * (600 * 1024), "512 KB"),
    ],
)
def test_a_logo_that_is_not_a_small_png_or_jpeg_is_refused(clinic, local_media, name, data, reason):
    admin = _browser("practice_admin")

    response = admin.post(
        f"/setup/clinics/{clinic.pk}/",
        {**_details(clinic), "logo": SimpleUploadedFile(name, data)},
    )

    assert response.status_code == 400
    assert reason in response.content.decode()
    clinic.refresh_from_db()
    assert not clinic.logo and clinic.abn == ""
    assert not AuditEvent.objects.filter(object_type="clinicians.clinic").exists()


def test_an_invalid_abn_is_refused(clinic, local_media):
    response = _browser("practice_admin").post(
        f"/setup/clinics/{clinic.pk}/", _details(clinic, abn="51 824 753 557")
    )

    assert response.status_code == 400
    assert "not a valid ABN" in response.content.decode()


def test_a_new_logo_replaces_the_old_and_removing_it_clears_it(
    clinic, local_media, django_capture_on_commit_callbacks
):
    admin = _browser("practice_admin")
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(
            f"/setup/clinics/{clinic.pk}/",
            {**_details(clinic), "logo": SimpleUploadedFile("a.png", _image("PNG"))},
        )
    clinic.refresh_from_db()
    first = clinic.logo.name

    with django_capture_on_commit_callbacks(execute=True):
        admin.post(
            f"/setup/clinics/{clinic.pk}/",
            {**_details(clinic), "logo": SimpleUploadedFile("b.jpg", _image("JPEG"))},
        )
    clinic.refresh_from_db()
    second = clinic.logo.name
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(f"/setup/clinics/{clinic.pk}/", {**_details(clinic), "remove_logo": "on"})
    clinic.refresh_from_db()

    assert second != first
    assert not default_storage.exists(first)
    assert not clinic.logo
    assert not default_storage.exists(second)


def test_an_admin_adds_a_clinic(local_media):
    response = _browser("practice_admin").post(
        "/setup/clinics/new/", _details(Clinic(name="Parramatta Physio"))
    )

    assert response.status_code == 302
    assert Clinic.objects.get(name="Parramatta Physio").abn == ABN


def test_the_letter_pdf_carries_the_logo_and_the_abn(clinic, clinician_user, local_media):
    jpeg = _image("JPEG", (300, 100))
    _browser("practice_admin").post(
        f"/setup/clinics/{clinic.pk}/",
        {**_details(clinic), "logo": SimpleUploadedFile("logo.jpg", jpeg)},
    )
    ClinicianFactory(user=clinician_user, given_name="Mina", family_name="Lee", clinics=[clinic])
    patient = PatientFactory(given_name="Ada", family_name="Lovelace", home_clinic=clinic)
    note = note_sign(
        note=ClinicalNoteFactory(author=clinician_user, patient=patient, body="Orthoses fitted."),
        by=clinician_user,
    )

    document = letter_create(note=note, to="patient", by=clinician_user)

    with default_storage.open(document.key, "rb") as stored:
        data = stored.read()
    # One image XObject, the logo: a JPEG is embedded as its own bytes (DCTDecode).
    assert len(re.findall(rb"/Subtype /Image", data)) == 1
    assert b"/Filter /DCTDecode" in data and jpeg in data
    assert b"/Width 300" in data and b"/Height 100" in data
    text = _pdf_text(data)
    assert f"ABN {ABN}" in text and "hello@harbour.example" in text
    assert "1 Quay St, Sydney NSW 2000" in text and "Harbour Physio" in text
    assert "Orthoses fitted." in text


def test_a_letter_without_a_logo_has_no_image(clinic, clinician_user, local_media):
    patient = PatientFactory(home_clinic=clinic)
    note = note_sign(
        note=ClinicalNoteFactory(author=clinician_user, patient=patient, body="Seen."),
        by=clinician_user,
    )

    document = letter_create(note=note, to="patient", by=clinician_user)

    with default_storage.open(document.key, "rb") as stored:
        assert b"/Subtype /Image" not in stored.read()
