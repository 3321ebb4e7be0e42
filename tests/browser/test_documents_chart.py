"""A receptionist adds documents to a patient's chart by dragging them in."""

import base64
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import Page, expect

from documents.models import Document
from tests.browser.conftest import screenshot, sign_in
from tests.documents.corpus import pdf
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

PASSWORD = "correct-horse-battery"

DROP = """([name, type, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  return transfer;
}"""


def drop_file(page: Page, name: str, content: bytes, mime: str) -> None:
    transfer = page.evaluate_handle(DROP, [name, mime, base64.b64encode(content).decode()])
    page.dispatch_event("[data-dropzone]", "dragenter", {"dataTransfer": transfer})
    page.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": transfer})


def test_dropping_documents_on_the_chart_uploads_them_with_progress(page: Page, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    reception = UserFactory(role="reception", email="front@clinic.example")
    patient = PatientFactory(
        given_name="Ada", family_name="Lovelace", alerts="Latex allergy", phone="+61412345678"
    )
    AppointmentFactory(patient=patient, start=timezone.now() + timedelta(days=2))
    sign_in(page, reception.email, PASSWORD)

    page.goto(f"/patients/{patient.pk}/")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    expect(page.get_by_text("Latex allergy")).to_be_visible()

    page.get_by_label("Category").select_option("referral")
    drop_file(page, "GP referral.pdf", pdf("Referral"), "application/pdf")
    expect(page.get_by_text("Uploaded GP referral.pdf.")).to_be_visible()
    expect(page.get_by_role("link", name="GP referral.pdf")).to_be_visible()

    drop_file(page, "not really.pdf", b"<html><script>alert(1)</script></html>", "application/pdf")
    expect(page.get_by_role("alert")).to_contain_text("not really.pdf: Only PDF, JPEG")
    # After every batch the list is fetched again; click only once it has been replaced.
    expect(page.locator("#documents-panel[aria-busy]")).to_have_count(0)

    with page.expect_download() as download:
        page.get_by_role("link", name="GP referral.pdf").click()
    assert download.value.suggested_filename == "GP referral.pdf"
    with open(download.value.path(), "rb") as saved:
        assert saved.read() == pdf("Referral")

    assert list(Document.objects.values_list("original_name", flat=True)) == ["GP referral.pdf"]
    screenshot(page, "patient-chart.png")
