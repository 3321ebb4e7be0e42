"""AI drafts of notes (issue 19): through the API, the Celery task (in-process) and the real
`openai` SDK, against the local fake OpenAI server."""

import json
from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from accounts.roles import CLINICIAN
from audit.models import AuditEvent
from notes.ai import ai_draft_run, redactor_for
from notes.models import AiJob, AiSettings
from notes.services import note_sign
from tests.factories import (
    ClinicalNoteFactory,
    ClinicianFactory,
    DocumentFactory,
    PatientFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SHORTHAND = "R foot pain 3/52, worse AM, ↑ w/ walking, PF tender, plan: orthotics cast next visit"


@pytest.fixture
def known_patient(db):
    """A patient whose every identifier is known, to look for them in what was sent."""
    return PatientFactory(
        given_name="Marguerite",
        family_name="Okonkwo-Lindqvist",
        preferred_name="Margo",
        date_of_birth=date(1958, 4, 17),
        phone="+61412345678",
        email="margo.ok@example.com",
        address="12 Wattlebird Crescent",
        suburb="Kookaburra Flats",
        medicare_number="2950974202",
        ndis_number="431234567",
        dva_number="NX123456",
        emergency_contact_name="Torvald Lindqvist",
    )


@pytest.fixture
def draft(clinician_user, known_patient):
    return ClinicalNoteFactory(
        patient=known_patient, author=clinician_user, kind="progress", body=""
    )


def _ask(api, note, capture, **body):
    payload = {"shorthand": SHORTHAND, "format": "soap", **body}
    with capture(execute=True):
        return api.post(f"/api/v1/notes/{note.pk}/draft/", payload, format="json")


def test_a_soap_draft_fills_the_note_and_leaves_it_unsigned(
    clinician_api, draft, fake_openai, django_capture_on_commit_callbacks
):
    fake_openai.answer = {
        "subjective": "Right foot pain for three weeks, worse in the morning.",
        "objective": "Plantar fascia tender.",
        "assessment": "Plantar fasciitis.",
        "plan": "Cast for orthotics next visit.",
    }
    response = _ask(clinician_api, draft, django_capture_on_commit_callbacks)

    assert response.status_code == 202, response.content
    job = AiJob.objects.get()
    assert response.json()["id"] == job.pk
    # The task runs once the request's transaction commits (here: as the capture closes).
    assert response.json()["status"] == "queued"
    draft.refresh_from_db()
    assert draft.body.startswith("Subjective:\nRight foot pain for three weeks")
    assert "Plan:\nCast for orthotics next visit." in draft.body
    assert draft.kind == "soap"
    assert draft.status == "draft" and draft.signed_at is None and draft.signed_by is None
    provenance = draft.ai_provenance
    assert provenance["model"] == "gpt-4o-mini-2024-07-18"
    assert provenance["prompt_version"] == "soap.v1"
    assert provenance["source_note_ids"] == []
    assert provenance["request_id"] == "req_fake_1"
    assert provenance["job"] == job.pk
    assert job.prompt_tokens == 120 and job.completion_tokens == 80
    assert job.cost_microdollars == round(120 * 0.15 + 80 * 0.60)

    state = clinician_api.get(f"/api/v1/ai-jobs/{job.pk}/").json()
    assert state["status"] == "done" and state["error"] is None
    assert state["usage"] == {"prompt_tokens": 120, "completion_tokens": 80}
    # Through the SDK, with the schema for SOAP as a strict structured output.
    sent = fake_openai.received[0]
    assert sent["path"] == "/v1/chat/completions"
    schema = sent["body"]["response_format"]["json_schema"]
    assert schema["strict"] is True
    assert schema["schema"]["required"] == ["subjective", "objective", "assessment", "plan"]
    assert sent["body"]["model"] == "gpt-4o-mini"


def test_no_identifier_leaves_and_each_comes_back_in_the_draft(
    clinician_user,
    clinician_api,
    draft,
    known_patient,
    fake_openai,
    django_capture_on_commit_callbacks,
):
    clinician_user.full_name = "Bartholomew Quince"
    clinician_user.save()
    ClinicianFactory(given_name="Henrietta", family_name="Vasquez-Ong")
    earlier = ClinicalNoteFactory(
        patient=known_patient,
        author=clinician_user,
        body=(
            "Margo (Marguerite Okonkwo-Lindqvist, DOB 17/04/1958, born 17 April 1958) came "
            "with Torvald Lindqvist. Lives at 12 Wattlebird Crescent, Kookaburra Flats. "
            "Ph 0412 345 678 or +61 412 345 678, email margo.ok@example.com. "
            "Medicare 2950 97420 2, NDIS 431 234 567, DVA NX123456. "
            "Seen with Dr Vasquez-Ong; reviewed by Bartholomew Quince."
        ),
    )
    note_sign(note=earlier, by=clinician_user)
    shorthand = "Mrs Okonkwo-Lindqvist R heel pain 3/52, d.o.b. 1958-04-17, ph 0412345678"

    response = _ask(
        clinician_api,
        draft,
        django_capture_on_commit_callbacks,
        shorthand=shorthand,
        source_note_ids=[earlier.pk],
    )

    assert response.status_code == 202, response.content
    sent = fake_openai.sent_text()
    checked = [
        "Marguerite",
        "Okonkwo",
        "Lindqvist",
        "Margo",
        "1958",
        "17/04",
        "April",
        "Wattlebird",
        "Kookaburra",
        "0412",
        "345 678",
        "412345678",
        "margo.ok",
        "2950",
        "97420",
        "431 234 567",
        "431234567",
        "NX123456",
        "Torvald",
        "Vasquez",
        "Bartholomew",
        "Quince",
    ]
    leaked = [value for value in checked if value.lower() in sent.lower()]
    assert leaked == []
    assert "[PATIENT_NAME]" in sent and "[DOB]" in sent and "[MEDICARE]" in sent
    assert "[NDIS]" in sent and "[PHONE]" in sent and "[CLINICIAN_1]" in sent
    # The fake echoes what it got into the first section: the placeholders are put back.
    draft.refresh_from_db()
    assert "Marguerite Okonkwo-Lindqvist" in draft.body
    assert "17/04/1958" in draft.body
    assert "2950974202" in draft.body and "431234567" in draft.body
    assert "0412345678" in draft.body
    assert "[" not in draft.body
    assert draft.ai_provenance["source_note_ids"] == [earlier.pk]


def test_every_request_is_exactly_one_disclose_event_without_content(
    clinician_user, clinician_api, draft, fake_openai, django_capture_on_commit_callbacks
):
    _ask(clinician_api, draft, django_capture_on_commit_callbacks)

    events = list(AuditEvent.objects.filter(action=AuditEvent.Action.DISCLOSE))
    assert len(events) == 1
    event = events[0]
    job = AiJob.objects.get()
    assert (event.object_type, event.object_id) == ("notes.aijob", str(job.pk))
    assert event.patient_id == draft.patient_id
    assert event.actor_id == clinician_user.pk
    assert event.detail["model"] == "gpt-4o-mini"
    assert event.detail["purpose"] == "draft_clinical_note"
    assert event.detail["note_id"] == draft.pk
    assert SHORTHAND[:10] not in json.dumps(event.detail)


def test_the_ai_never_signs_and_the_author_signs_the_edited_text(
    clinician_user, clinician_api, draft, fake_openai, django_capture_on_commit_callbacks
):
    _ask(clinician_api, draft, django_capture_on_commit_callbacks)
    draft.refresh_from_db()
    assert draft.status == "draft"
    edited = draft.body + "\nReviewed: agree."
    clinician_api.patch(f"/api/v1/notes/{draft.pk}/", {"body": edited}, format="json")

    signed = clinician_api.post(f"/api/v1/notes/{draft.pk}/sign/").json()

    assert signed["status"] == "signed" and signed["signed_by"] == clinician_user.pk
    assert signed["ai_provenance"]["request_id"] == "req_fake_1"
    draft.refresh_from_db()
    assert draft.body == edited
    # The digest covers the final text; provenance sits beside it, unsigned.
    assert draft.content_sha256 == draft.compute_sha256()
    before = draft.compute_sha256()
    draft.ai_provenance = {"model": "something else"}
    assert draft.compute_sha256() == before
    draft.body = edited + "x"
    assert draft.compute_sha256() != before


def test_reception_cannot_request_drafts(
    reception_api, draft, fake_openai, django_capture_on_commit_callbacks
):
    response = _ask(reception_api, draft, django_capture_on_commit_callbacks)

    assert response.status_code in (403, 404)
    assert response.json()["code"] in ("permission_denied", "not_found")
    assert not AiJob.objects.exists() and fake_openai.received == []


def test_a_clinician_cannot_draft_on_another_clinicians_draft(
    draft, fake_openai, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    other = APIClient()
    other.force_authenticate(UserFactory(role=CLINICIAN))
    response = _ask(other, draft, django_capture_on_commit_callbacks)

    assert response.status_code == 404
    assert not AiJob.objects.exists() and fake_openai.received == []


def test_a_signed_note_cannot_be_drafted(
    clinician_user, clinician_api, fake_openai, django_capture_on_commit_callbacks, patient
):
    note = ClinicalNoteFactory(patient=patient, author=clinician_user)
    note_sign(note=note, by=clinician_user)

    response = _ask(clinician_api, note, django_capture_on_commit_callbacks)

    assert response.status_code == 409
    assert response.json()["code"] == "note_signed"


def test_another_clinicians_job_is_not_found(
    clinician_api, draft, fake_openai, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    job_id = _ask(clinician_api, draft, django_capture_on_commit_callbacks).json()["id"]
    other = APIClient()
    other.force_authenticate(UserFactory(role=CLINICIAN))

    assert other.get(f"/api/v1/ai-jobs/{job_id}/").status_code == 404


def test_429s_are_retried_as_the_sdk_does(
    clinician_api, draft, fake_openai, django_capture_on_commit_callbacks
):
    fake_openai.script = ["429", "500"]

    response = _ask(clinician_api, draft, django_capture_on_commit_callbacks)

    assert AiJob.objects.get(pk=response.json()["id"]).status == "done"
    retries = [item["headers"].get("x-stainless-retry-count") for item in fake_openai.received]
    assert retries == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("script", "code", "words"),
    [
        (["429", "429", "429"], "ai_rate_limited", "busy"),
        (["refusal"], "ai_refused", "declined"),
        (["length"], "ai_length", "cut off"),
        (["content_filter"], "ai_content_filter", "content filter"),
        (["500", "500", "500"], "ai_failed", "HTTP 500"),
    ],
)
def test_a_failure_tells_the_clinician_saves_nothing_and_keeps_the_shorthand(
    clinician_api, draft, fake_openai, django_capture_on_commit_callbacks, script, code, words
):
    draft.body = "My own words so far."
    draft.save()
    fake_openai.script = list(script)

    response = _ask(clinician_api, draft, django_capture_on_commit_callbacks)

    assert response.status_code == 202
    state = clinician_api.get(f"/api/v1/ai-jobs/{response.json()['id']}/").json()
    assert state["status"] == "failed"
    assert state["error_code"] == code and words in state["error"]
    draft.refresh_from_db()
    assert draft.body == "My own words so far." and draft.ai_provenance is None
    assert AiJob.objects.get().shorthand == SHORTHAND


def test_a_timeout_is_retried_then_reported(
    clinician_api, draft, fake_openai, settings, django_capture_on_commit_callbacks
):
    settings.NEXUS_AI_TIMEOUT_S = 0.3
    settings.NEXUS_AI_MAX_RETRIES = 1
    fake_openai.script = ["timeout", "timeout"]

    response = _ask(clinician_api, draft, django_capture_on_commit_callbacks)

    state = clinician_api.get(f"/api/v1/ai-jobs/{response.json()['id']}/").json()
    assert state["status"] == "failed" and state["error_code"] == "ai_timeout"
    assert len(fake_openai.received) == 2


def test_without_a_key_or_with_the_practice_switch_off_nothing_is_sent(
    clinician_api, draft, fake_openai, settings, django_capture_on_commit_callbacks
):
    settings.OPENAI_API_KEY = ""
    off = _ask(clinician_api, draft, django_capture_on_commit_callbacks)
    settings.OPENAI_API_KEY = "sk-test-nexus-fake"
    AiSettings.objects.update_or_create(pk=1, defaults={"drafting_enabled": False})
    switched_off = _ask(clinician_api, draft, django_capture_on_commit_callbacks)

    assert off.status_code == switched_off.status_code == 403
    assert off.json()["code"] == switched_off.json()["code"] == "ai_disabled"
    assert fake_openai.received == [] and not AiJob.objects.exists()


def test_the_daily_limit_per_user(
    clinician_api, draft, fake_openai, settings, django_capture_on_commit_callbacks
):
    settings.NEXUS_AI_DAILY_LIMIT = 1
    first = _ask(clinician_api, draft, django_capture_on_commit_callbacks)
    second = _ask(clinician_api, draft, django_capture_on_commit_callbacks)

    assert first.status_code == 202
    assert second.status_code == 429 and second.json()["code"] == "ai_daily_limit"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "letter"}, "format"),
        ({"shorthand": "", "source_note_ids": []}, "shorthand"),
        ({"shorthand": "x" * 4001}, "shorthand"),
        ({"source_note_ids": [999999]}, "source_note_ids"),
    ],
)
def test_bad_requests_answer_400_with_the_field(
    clinician_api, draft, fake_openai, django_capture_on_commit_callbacks, body, field
):
    response = _ask(clinician_api, draft, django_capture_on_commit_callbacks, **body)

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert fake_openai.received == []


def test_only_signed_notes_of_the_same_patient_may_be_sources(
    clinician_user, clinician_api, draft, fake_openai, django_capture_on_commit_callbacks
):
    elsewhere = ClinicalNoteFactory(author=clinician_user)
    note_sign(note=elsewhere, by=clinician_user)
    unsigned = ClinicalNoteFactory(patient=draft.patient, author=clinician_user)

    for source in (elsewhere, unsigned):
        response = _ask(
            clinician_api,
            draft,
            django_capture_on_commit_callbacks,
            source_note_ids=[source.pk],
        )
        assert response.status_code == 400
    assert fake_openai.received == []


def test_a_token_needs_the_notes_write_scope(
    clinician_user, draft, fake_openai, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    def client_with(scopes: list[str]) -> APIClient:
        _, secret = ApiToken.issue(user=clinician_user, name="t", scopes=scopes)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    read_only = _ask(client_with(["notes:read"]), draft, django_capture_on_commit_callbacks)
    writer = _ask(client_with(["notes:write"]), draft, django_capture_on_commit_callbacks)

    assert read_only.status_code == 403
    assert writer.status_code == 202


def test_the_redactor_restores_only_known_placeholders(known_patient):
    redactor = redactor_for(patient=known_patient, staff=[("Bartholomew", "Quince")])

    text = redactor.redact("MARGUERITE okonkwo-lindqvist saw Dr Quince; [UNKNOWN] stays")

    assert text == "[PATIENT_NAME] saw Dr [CLINICIAN_1]; [UNKNOWN] stays"
    assert redactor.restore(text) == (
        "Marguerite Okonkwo-Lindqvist saw Dr Bartholomew Quince; [UNKNOWN] stays"
    )


def test_an_at_report_draws_on_ticked_notes_and_document_descriptions_only(
    clinician_user,
    clinician_api,
    draft,
    known_patient,
    fake_openai,
    django_capture_on_commit_callbacks,
):
    trial = ClinicalNoteFactory(
        patient=known_patient, author=clinician_user, body="Trialled a rollator at home."
    )
    untouched = ClinicalNoteFactory(
        patient=known_patient, author=clinician_user, body="Unrelated toenail review."
    )
    for note in (trial, untouched):
        note_sign(note=note, by=clinician_user)
    quote = DocumentFactory(
        patient=known_patient,
        category="report",
        description="Quote for Margo Okonkwo-Lindqvist: rollator $420",
        original_name="okonkwo-quote.pdf",
    )
    DocumentFactory(patient=known_patient, description="Old referral not chosen")

    response = _ask(
        clinician_api,
        draft,
        django_capture_on_commit_callbacks,
        shorthand="",
        format="at_report",
        source_note_ids=[trial.pk],
        source_document_ids=[quote.pk],
    )

    assert response.status_code == 202, response.content
    sent = fake_openai.sent_text()
    assert "Trialled a rollator at home." in sent
    assert "Document 1 of 1 (Report): Quote for [PATIENT_NAME]: rollator $420" in sent
    assert "toenail" not in sent and "Old referral" not in sent
    assert "okonkwo-quote.pdf" not in sent and "Okonkwo" not in sent
    draft.refresh_from_db()
    assert draft.kind == "at_report"
    assert draft.body.startswith("Participant goals:\n")
    assert draft.ai_provenance["source_note_ids"] == [trial.pk]
    assert draft.ai_provenance["source_document_ids"] == [quote.pk]
    disclose = AuditEvent.objects.get(action=AuditEvent.Action.DISCLOSE)
    assert disclose.detail["source_document_ids"] == [quote.pk]


def test_a_document_of_another_patient_is_refused(
    clinician_api, draft, fake_openai, django_capture_on_commit_callbacks
):
    elsewhere = DocumentFactory(description="Someone else's scan")

    response = _ask(
        clinician_api,
        draft,
        django_capture_on_commit_callbacks,
        source_document_ids=[elsewhere.pk],
    )

    assert response.status_code == 400
    assert "source_document_ids" in response.json()["errors"]
    assert fake_openai.received == []


def test_an_unreadable_answer_saves_nothing_and_logs_no_text(
    clinician_api, draft, fake_openai, django_capture_on_commit_callbacks, capsys
):
    fake_openai.script = ["garbage"]

    response = _ask(clinician_api, draft, django_capture_on_commit_callbacks)

    job = AiJob.objects.get(pk=response.json()["id"])
    assert job.status == "failed" and job.error_code == "ai_bad_answer"
    draft.refresh_from_db()
    assert draft.body == "" and draft.ai_provenance is None
    captured = capsys.readouterr()
    assert "half an answer" not in captured.out + captured.err


def test_a_failed_request_is_still_one_disclose_event(
    clinician_api, draft, fake_openai, django_capture_on_commit_callbacks
):
    fake_openai.script = ["500", "500", "500"]

    _ask(clinician_api, draft, django_capture_on_commit_callbacks)

    assert len(fake_openai.received) == 3  # the SDK's two retries
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DISCLOSE).count() == 1


def test_a_job_lost_with_its_worker_does_not_block_the_next(
    clinician_user,
    clinician_api,
    draft,
    fake_openai,
    settings,
    django_capture_on_commit_callbacks,
):
    lost = AiJob.objects.create(
        note=draft,
        patient=draft.patient,
        requested_by=clinician_user,
        format="soap",
        status="running",
        model="gpt-4o-mini",
        prompt_version="soap.v1",
    )
    blocked = _ask(clinician_api, draft, django_capture_on_commit_callbacks)
    assert blocked.status_code == 409 and blocked.json()["code"] == "ai_job_running"

    AiJob.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 61)
    )
    retried = _ask(clinician_api, draft, django_capture_on_commit_callbacks)

    assert retried.status_code == 202
    lost.refresh_from_db()
    assert lost.status == "failed" and lost.error_code == "ai_lost"


def test_the_job_runs_once_however_often_the_task_is_delivered(
    clinician_api, draft, fake_openai, django_capture_on_commit_callbacks
):
    job_id = _ask(clinician_api, draft, django_capture_on_commit_callbacks).json()["id"]

    assert ai_draft_run(job_id=job_id) == "skipped"
    assert len(fake_openai.received) == 1


def test_nothing_is_sent_until_the_vendor_agreement_is_recorded(
    clinician_api, draft, fake_openai, django_capture_on_commit_callbacks
):
    AiSettings.objects.filter(pk=1).update(agreement_signed=False)

    response = _ask(clinician_api, draft, django_capture_on_commit_callbacks)

    assert response.status_code == 403 and response.json()["code"] == "ai_disabled"
    assert fake_openai.received == []


def test_drafting_cannot_be_turned_on_without_the_agreement(db):
    from django.core.exceptions import ValidationError

    settings_row = AiSettings(drafting_enabled=True, agreement_signed=False)

    with pytest.raises(ValidationError) as raised:
        settings_row.full_clean()

    assert "drafting_enabled" in raised.value.message_dict
    AiSettings.objects.all().delete()
    assert AiSettings.current().allows_drafting is False  # off by default


def test_switching_off_after_queueing_stops_the_send(
    clinician_user, draft, fake_openai, django_capture_on_commit_callbacks
):
    from notes.ai import ai_draft_request

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = ai_draft_request(note=draft, by=clinician_user, shorthand="x", format="soap")
    AiSettings.objects.filter(pk=1).update(drafting_enabled=False)
    for callback in callbacks:
        callback()

    job.refresh_from_db()
    assert job.status == "failed" and job.error_code == "ai_not_allowed"
    assert fake_openai.received == []
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.DISCLOSE).exists()
