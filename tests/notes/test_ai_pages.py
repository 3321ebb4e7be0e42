"""The editor's "Draft with AI" card (issue 19): hidden without a key or with the practice
switch off, request and progress through HTMX, the label on the draft, the signed note and
the chart, discarding a draft, and reception never seeing any of it."""

import pytest

from audit.models import AuditEvent
from notes.models import AiJob, AiSettings
from notes.services import note_sign
from tests.conftest import signed_in
from tests.factories import ClinicalNoteFactory, DocumentFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(clinician_user):
    return ClinicalNoteFactory(
        patient=PatientFactory(given_name="Ingrid", family_name="Halvorsen"),
        author=clinician_user,
        kind="soap",
        body="Subjective:\n\nObjective:\n",
    )


def _ask(client, draft, capture, htmx=True, **data):
    form = {"shorthand": "L ankle sprain 2/7, swelling", "format": "soap", **data}
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    with capture(execute=True):
        return client.post(f"/notes/{draft.pk}/ai-draft/", form, **headers)


def test_the_card_is_hidden_without_a_key_and_with_the_switch_off(
    clinician_user, draft, settings, fake_openai
):
    client = signed_in(clinician_user)
    assert "Draft with AI" in client.get(f"/notes/{draft.pk}/").content.decode()

    settings.OPENAI_API_KEY = ""
    assert "Draft with AI" not in client.get(f"/notes/{draft.pk}/").content.decode()

    settings.OPENAI_API_KEY = "sk-test-nexus-fake"
    AiSettings.objects.update_or_create(pk=1, defaults={"drafting_enabled": False})
    assert "Draft with AI" not in client.get(f"/notes/{draft.pk}/").content.decode()


def test_a_draft_requested_through_htmx_lands_in_the_note_with_its_label(
    clinician_user, draft, fake_openai, django_capture_on_commit_callbacks
):
    client = signed_in(clinician_user)
    fake_openai.answer = {"subjective": "Left ankle sprain two days ago.", "plan": "RICE."}

    response = _ask(client, draft, django_capture_on_commit_callbacks)

    # In-process the job ran on commit; the poll that follows sends the editor back.
    job = AiJob.objects.get()
    assert job.status == "done"
    poll = client.get(f"/notes/ai-jobs/{job.pk}/", HTTP_HX_REQUEST="true")
    assert poll.status_code == 204 and poll["HX-Redirect"] == f"/notes/{draft.pk}/"
    assert response.status_code in (200, 204)
    page = client.get(f"/notes/{draft.pk}/").content.decode()
    assert "Drafted with AI" in page and "Left ankle sprain two days ago." in page
    assert "Discard the AI draft" in page


def test_a_running_job_polls_and_a_failure_keeps_the_shorthand(
    clinician_user, draft, fake_openai, django_capture_on_commit_callbacks
):
    client = signed_in(clinician_user)
    fake_openai.script = ["refusal"]

    response = _ask(client, draft, django_capture_on_commit_callbacks)
    job = AiJob.objects.get()
    queued = AiJob.objects.create(
        note=draft,
        patient=draft.patient,
        requested_by=clinician_user,
        format="soap",
        model="gpt-4o-mini",
        prompt_version="soap.v1",
    )

    assert job.status == "failed"
    assert 'hx-get="/notes/ai-jobs/' in response.content.decode()  # polled while queued
    failed = client.get(f"/notes/ai-jobs/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "declined" in failed and 'role="alert"' in failed
    running = client.get(f"/notes/ai-jobs/{queued.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert f'hx-get="/notes/ai-jobs/{queued.pk}/"' in running
    queued.delete()
    page = client.get(f"/notes/{draft.pk}/").content.decode()
    assert "L ankle sprain 2/7, swelling" in page  # the shorthand is offered again


def test_discarding_puts_the_old_text_back_and_forgets_the_provenance(
    clinician_user, draft, fake_openai, django_capture_on_commit_callbacks
):
    client = signed_in(clinician_user)
    _ask(client, draft, django_capture_on_commit_callbacks, htmx=False)
    draft.refresh_from_db()
    assert draft.ai_provenance is not None

    response = client.post(f"/notes/{draft.pk}/ai-draft/discard/")

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.body == "Subjective:\n\nObjective:\n" and draft.ai_provenance is None
    assert AuditEvent.objects.filter(detail__view="note_ai_discard").count() == 1


def test_the_signed_note_and_the_chart_say_drafted_with_ai(
    clinician_user, reception_user, draft, fake_openai, django_capture_on_commit_callbacks
):
    client = signed_in(clinician_user)
    _ask(client, draft, django_capture_on_commit_callbacks, htmx=False)
    draft.refresh_from_db()
    note_sign(note=draft, by=clinician_user)

    signed = " ".join(client.get(f"/notes/{draft.pk}/").content.decode().split())
    chart = client.get(f"/patients/{draft.patient_id}/").content.decode()

    assert f"reviewed and signed by {clinician_user}" in signed
    assert "gpt-4o-mini-2024-07-18" in signed
    assert "Drafted with AI" in chart


def test_reception_cannot_ask_for_a_draft_or_read_a_job(
    clinician_user, reception_user, draft, fake_openai, django_capture_on_commit_callbacks
):
    job_client = signed_in(clinician_user)
    _ask(job_client, draft, django_capture_on_commit_callbacks)
    job = AiJob.objects.get()
    reception = signed_in(reception_user)

    assert _ask(reception, draft, django_capture_on_commit_callbacks).status_code == 403
    assert reception.get(f"/notes/ai-jobs/{job.pk}/").status_code == 403
    assert AiJob.objects.count() == 1


def test_a_refusal_before_queueing_is_shown_in_the_card(
    clinician_user, draft, fake_openai, django_capture_on_commit_callbacks
):
    response = _ask(
        signed_in(clinician_user), draft, django_capture_on_commit_callbacks, shorthand=""
    )

    assert response.status_code == 200
    assert "Type some shorthand" in response.content.decode()
    assert not AiJob.objects.exists()


def test_the_card_offers_signed_notes_and_described_documents_and_audits_them(
    clinician_user, draft, fake_openai, django_capture_on_commit_callbacks
):
    signed = ClinicalNoteFactory(patient=draft.patient, author=clinician_user, kind="soap")
    note_sign(note=signed, by=clinician_user)
    described = DocumentFactory(patient=draft.patient, description="OT home visit report")
    DocumentFactory(patient=draft.patient, description="")
    client = signed_in(clinician_user)

    page = client.get(f"/notes/{draft.pk}/").content.decode()

    assert f'value="{signed.pk}"' in page and "OT home visit report" in page
    # The notes and documents offered are one event, listing each as kind:id.
    offered = AuditEvent.objects.filter(detail__view="note_ai_sources")
    assert any(f"documents.document:{described.pk}" in e.object_ids for e in offered)
    _ask(
        client,
        draft,
        django_capture_on_commit_callbacks,
        htmx=False,
        source_note_ids=[signed.pk],
        source_document_ids=[described.pk],
    )
    assert "OT home visit report" in fake_openai.sent_text()
