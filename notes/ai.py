"""AI drafts of clinical notes (issue 19): minimum data out, provenance in, a clinician signs.

A clinician asks for a draft of their own draft note (`ai_draft_request`). An `AiJob` row is
written in that transaction and handed to a Celery task after commit (in-process without a
broker). The task (`ai_draft_run`) claims the job, builds the prompt from the shorthand and
the signed notes the clinician chose, replaces every identifier with a placeholder, records
one `disclose` audit event, asks the model for a structured answer, puts the identifiers back
and writes the text into the draft's body with its provenance. The note stays a draft: only
`note_sign`, called by its author, signs it.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import structlog
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field

from accounts.models import User
from audit.models import AuditEvent
from audit.services import Target, audit_record
from clinicians.models import Clinician
from documents.models import Document
from integrations.openai.client import (
    AiError,
    ai_configured,
    cost_microdollars,
    structured_completion,
)
from nexus.errors import (
    AiDailyLimit,
    AiDisabled,
    AiJobRunning,
    NoteSigned,
    PermissionDenied,
    ValidationFailed,
)
from notes.models import AiJob, AiSettings, ClinicalNote
from patients.models import Patient

log = structlog.get_logger(__name__)

Kind = ClinicalNote.Kind
PROMPTS = Path(__file__).resolve().parent / "prompts"
PROMPT_VERSION = "v1"
PURPOSE = "draft_clinical_note"
MAX_SHORTHAND = 4000
MAX_SOURCES = 20


# What the model must answer, per format: each field becomes one section of the note.
class _Draft(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SoapDraft(_Draft):
    subjective: str = Field(description="What the patient reports.")
    objective: str = Field(description="What the clinician observed, tested or measured.")
    assessment: str = Field(description="The clinician's clinical impression.")
    plan: str = Field(description="Treatment, advice and follow-up.")


class ProgressDraft(_Draft):
    progress: str = Field(description="This consultation and how the patient is going.")
    plan: str = Field(description="What happens next.")


class InitialAssessmentDraft(_Draft):
    presenting_complaint: str
    history: str
    medical_history_and_medications: str
    examination: str
    assessment: str
    goals: str
    plan: str


class AtReportDraft(_Draft):
    participant_goals: str
    functional_assessment: str
    trial_of_equipment: str
    recommendation: str
    justification: str = Field(description="Against the NDIS reasonable and necessary criteria.")
    risks: str
    quotes: str


SCHEMAS: dict[str, type[_Draft]] = {
    Kind.SOAP: SoapDraft,
    Kind.PROGRESS: ProgressDraft,
    Kind.INITIAL_ASSESSMENT: InitialAssessmentDraft,
    Kind.AT_REPORT: AtReportDraft,
}
FORMATS = tuple(SCHEMAS)
# Headings in the note's body, in order; the SOAP and assessment ones match notes/outlines.py.
HEADINGS: dict[str, dict[str, str]] = {
    Kind.SOAP: {
        "subjective": "Subjective",
        "objective": "Objective",
        "assessment": "Assessment",
        "plan": "Plan",
    },
    Kind.PROGRESS: {"progress": "Progress", "plan": "Plan"},
    Kind.INITIAL_ASSESSMENT: {
        "presenting_complaint": "Presenting complaint",
        "history": "History",
        "medical_history_and_medications": "Medical history and medications",
        "examination": "Examination",
        "assessment": "Assessment",
        "goals": "Goals",
        "plan": "Plan",
    },
    Kind.AT_REPORT: {
        "participant_goals": "Participant goals",
        "functional_assessment": "Functional assessment",
        "trial_of_equipment": "Trial of equipment",
        "recommendation": "Recommendation",
        "justification": "Justification (NDIS reasonable and necessary)",
        "risks": "Risks and mitigations",
        "quotes": "Quotes",
    },
}


@cache
def _prompt_file(name: str) -> str:
    return (PROMPTS / f"{name}.{PROMPT_VERSION}.txt").read_text(encoding="utf-8").strip()


def prompt_version(format: str) -> str:
    """Names the prompt files used: they live in notes/prompts/ under version control."""
    return f"{format}.{PROMPT_VERSION}"


# Placeholders ------------------------------------------------------------------------------

_SEP = r"[\s\-]?"


def _digits(value: str) -> str:
    """A run of digits (or letters and digits) however it is spaced or hyphenated."""
    chars = [re.escape(c) for c in re.sub(r"[\s\-]", "", value)]
    return _SEP.join(chars)


def _words(value: str) -> str:
    # Names and addresses: any run of spaces between words, any case (flag set below).
    return r"\s+".join(re.escape(part) for part in value.split())


_DOB_FORMATS = (
    "%d/%m/%Y",
    "{d}/{m}/%Y",
    "%d/%m/%y",
    "{d}/{m}/%y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y-%m-%d",
    "{d} %b %Y",
    "{d} %B %Y",
    "%d %b %Y",
    "%d %B %Y",
    "%B {d}, %Y",
    "%b {d}, %Y",
)


def _dob_patterns(born: date) -> list[str]:
    texts = {
        born.strftime(fmt.replace("{d}", str(born.day)).replace("{m}", str(born.month)))
        for fmt in _DOB_FORMATS
    }
    return [_words(text) for text in texts]


@dataclass
class Redactor:
    """Replaces known identifiers with placeholders, and puts them back in the answer.
    Patterns are tried longest first, so "Jane Citizen" becomes [PATIENT_NAME] rather than
    [PATIENT_GIVEN_NAME] [PATIENT_FAMILY_NAME]."""

    patterns: list[tuple[str, str]] = field(default_factory=list)  # (regex, placeholder)
    values: dict[str, str] = field(default_factory=dict)  # placeholder -> text put back
    _compiled: re.Pattern[str] | None = None

    def add(self, placeholder: str, restore_as: str, patterns: Iterable[str]) -> None:
        found = [p for p in patterns if p]
        if not restore_as.strip() or not found:
            return
        self.values.setdefault(placeholder, restore_as.strip())
        self.patterns.extend((p, placeholder) for p in found)
        self._compiled = None

    def _regex(self) -> re.Pattern[str]:
        if self._compiled is None:
            ordered = sorted(enumerate(self.patterns), key=lambda item: (-len(item[1][0]), item[0]))
            groups = [f"(?P<p{index}>{pattern})" for index, (pattern, _) in ordered]
            body = "|".join(groups) or r"(?!x)x"
            self._compiled = re.compile(rf"(?<![\w@+])(?:{body})(?![\w@])", re.IGNORECASE)
        return self._compiled

    def redact(self, text: str) -> str:
        if not self.patterns or not text:
            return text

        def placeholder(match: re.Match[str]) -> str:
            index = int(str(match.lastgroup)[1:])
            return f"[{self.patterns[index][1]}]"

        return self._regex().sub(placeholder, text)

    def restore(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            return self.values.get(match.group(1), match.group(0))

        return re.sub(r"\[\s*([A-Z][A-Z0-9_]*)\s*\]", value, text)


def _name_patterns(*parts: str) -> list[str]:
    text = " ".join(p for p in parts if p and p.strip())
    return [_words(text)] if text.strip() else []


def redactor_for(*, patient: Patient, staff: Iterable[tuple[str, str]] = ()) -> Redactor:
    """Everything the issue names: the patient's names, date of birth, address, phone,
    email, Medicare/NDIS/DVA numbers, their emergency contact, and clinicians' names
    (`staff`: (given, family) pairs)."""
    r = Redactor()
    given, family, preferred = patient.given_name, patient.family_name, patient.preferred_name
    full = f"{given} {family}".strip()
    r.add("PATIENT_NAME", full, _name_patterns(given, family))
    if preferred:
        r.add("PATIENT_NAME", full, _name_patterns(preferred, family))
        r.add("PATIENT_PREFERRED_NAME", preferred, _name_patterns(preferred))
    r.add("PATIENT_GIVEN_NAME", given, _name_patterns(given))
    r.add("PATIENT_FAMILY_NAME", family, _name_patterns(family))
    if patient.date_of_birth:
        r.add("DOB", f"{patient.date_of_birth:%d/%m/%Y}", _dob_patterns(patient.date_of_birth))
    r.add("ADDRESS", patient.address, _name_patterns(patient.address))
    r.add("SUBURB", patient.suburb, _name_patterns(patient.suburb))
    if patient.phone:
        national = str(patient.phone.national_number)
        country = str(patient.phone.country_code)
        pattern = rf"(?:\+?{country}{_SEP}(?:\(0\){_SEP})?|0){_digits(national)}"
        r.add("PHONE", "0" + national if country == "61" else str(patient.phone), [pattern])
    r.add("EMAIL", patient.email, [re.escape(patient.email)] if patient.email else [])
    r.add("MEDICARE", patient.medicare_number, [_digits(patient.medicare_number)])
    r.add("NDIS", patient.ndis_number, [_digits(patient.ndis_number)])
    r.add("DVA", patient.dva_number, [_digits(patient.dva_number)])
    r.add(
        "EMERGENCY_CONTACT",
        patient.emergency_contact_name,
        _name_patterns(patient.emergency_contact_name),
    )
    for number, (staff_given, staff_family) in enumerate(dict.fromkeys(staff), start=1):
        name = f"{staff_given} {staff_family}".strip()
        patterns = _name_patterns(staff_given, staff_family)
        if len(staff_family.strip()) >= 3:
            patterns += _name_patterns(staff_family)
        r.add(f"CLINICIAN_{number}", name, patterns)
    return r


def _staff_names(users: Iterable[User]) -> list[tuple[str, str]]:
    """The practice's clinicians, and these users (the requester, the sources' authors)."""
    names = list(Clinician.objects.order_by("pk").values_list("given_name", "family_name"))
    for user in users:
        if user.full_name.strip():
            given, _, family = user.full_name.strip().rpartition(" ")
            names.insert(0, (given, family))
    return [(g or "", f or "") for g, f in names if (f or "").strip()]


# Prompts -----------------------------------------------------------------------------------


def build_prompt(
    *,
    format: str,
    shorthand: str,
    sources: list[ClinicalNote],
    redactor: Redactor,
    documents: list[Document] | None = None,
) -> tuple[str, str]:
    """(system, user) messages, identifiers already replaced. The notes go out by their kind
    and order only (no ids, dates or authors); documents by category and description only
    (never the file, its name or its date)."""
    system = f"{_prompt_file('system')}\n\n{_prompt_file(format)}"
    parts = []
    if shorthand.strip():
        parts.append(f"Clinician's shorthand:\n{redactor.redact(shorthand.strip())}")
    for number, source in enumerate(sources, start=1):
        parts.append(
            f"Note {number} of {len(sources)} ({source.get_kind_display()}):\n"
            f"{redactor.redact(source.body.strip())}"
        )
    documents = documents or []
    for number, document in enumerate(documents, start=1):
        parts.append(
            f"Document {number} of {len(documents)} ({document.get_category_display()}): "
            f"{redactor.redact(document.description.strip())}"
        )
    return system, "\n\n".join(parts)


def render(*, format: str, draft: dict[str, str]) -> str:
    """The note's body: one heading per section, as the note outlines write them."""
    return (
        "\n\n".join(
            f"{heading}:\n{draft.get(name, '').strip()}"
            for name, heading in HEADINGS[format].items()
        ).strip()
        + "\n"
    )


# Requesting --------------------------------------------------------------------------------


def ai_drafting_available() -> bool:
    """A key is set, the vendor agreement is recorded and the practice turned drafting on;
    otherwise no button shows and nothing is sent (checked again just before each call)."""
    return ai_configured() and AiSettings.current().allows_drafting


def _stale_after() -> timedelta:
    # Past the hard task limit the worker is gone: such a job blocks nothing.
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)


def _expire_stale(note: ClinicalNote) -> None:
    AiJob.objects.filter(
        note=note, status__in=AiJob.ACTIVE, created_at__lt=timezone.now() - _stale_after()
    ).update(
        status=AiJob.Status.FAILED,
        error_code="ai_lost",
        error="The draft did not finish. Try again.",
        finished_at=timezone.now(),
    )


def _start_of_today() -> Any:
    now = timezone.localtime()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _sources(*, note: ClinicalNote, ids: list[int]) -> list[ClinicalNote]:
    if len(ids) > MAX_SOURCES:
        raise ValidationFailed(f"Choose at most {MAX_SOURCES} notes.", field="source_note_ids")
    unique = list(dict.fromkeys(ids))
    found = {
        n.pk: n
        for n in ClinicalNote.objects.filter(
            pk__in=unique, patient_id=note.patient_id, status=ClinicalNote.Status.SIGNED
        ).select_related("author")
    }
    if len(found) != len(unique):
        raise ValidationFailed("Choose signed notes of this patient only.", field="source_note_ids")
    return [found[pk] for pk in unique]


def _documents(*, note: ClinicalNote, ids: list[int]) -> list[Document]:
    if len(ids) > MAX_SOURCES:
        raise ValidationFailed(
            f"Choose at most {MAX_SOURCES} documents.", field="source_document_ids"
        )
    unique = list(dict.fromkeys(ids))
    found = {
        d.pk: d
        for d in Document.objects.filter(
            pk__in=unique, patient_id=note.patient_id, deleted_at__isnull=True
        ).exclude(description="")
    }
    if len(found) != len(unique):
        raise ValidationFailed(
            "Choose described documents of this patient only.", field="source_document_ids"
        )
    return [found[pk] for pk in unique]


@transaction.atomic
def ai_draft_request(
    *,
    note: ClinicalNote,
    by: User,
    shorthand: str,
    format: str,
    source_note_ids: list[int] | None = None,
    source_document_ids: list[int] | None = None,
) -> AiJob:
    """Queue an AI draft of the author's own draft note. Nothing leaves Nexus here."""
    if not ai_drafting_available():
        raise AiDisabled()
    current = ClinicalNote.objects.select_for_update().get(pk=note.pk)
    if current.status == ClinicalNote.Status.SIGNED:
        raise NoteSigned()
    if current.author_id != by.pk:
        raise PermissionDenied("Only the author can ask for a draft of this note.")
    if current.kind == Kind.ADDENDUM:
        raise ValidationFailed("An addendum is written by hand.", field="format")
    if format not in FORMATS:
        raise ValidationFailed(
            "Choose SOAP, progress, initial assessment or AT report.", field="format"
        )
    shorthand = shorthand.strip()
    if len(shorthand) > MAX_SHORTHAND:
        raise ValidationFailed(
            f"Keep the shorthand under {MAX_SHORTHAND} characters.", field="shorthand"
        )
    sources = _sources(note=current, ids=list(source_note_ids or []))
    if source_document_ids and not by.has_perm("documents.view_document"):
        raise PermissionDenied("You may not read this patient's documents.")
    documents = _documents(note=current, ids=list(source_document_ids or []))
    if not shorthand and not sources and not documents:
        raise ValidationFailed(
            "Type some shorthand or choose notes to draft from.", field="shorthand"
        )
    _expire_stale(current)
    if AiJob.objects.filter(note=current, status__in=AiJob.ACTIVE).exists():
        raise AiJobRunning()
    used = AiJob.objects.filter(requested_by=by, created_at__gte=_start_of_today()).count()
    if used >= settings.NEXUS_AI_DAILY_LIMIT:
        raise AiDailyLimit()
    job = AiJob.objects.create(
        note=current,
        patient_id=current.patient_id,
        requested_by=by,
        format=format,
        shorthand=shorthand,
        source_note_ids=[s.pk for s in sources],
        source_document_ids=[d.pk for d in documents],
        model=settings.NEXUS_AI_MODEL,
        prompt_version=prompt_version(format),
    )
    transaction.on_commit(lambda: _enqueue(job.pk))
    log.info("ai.draft_queued", job_id=job.pk, note_id=current.pk, format=format)
    return job


def _enqueue(job_id: int) -> None:
    from notes.tasks import ai_draft_task

    try:
        ai_draft_task.apply_async((job_id,))
    except Exception:
        # Broker down: say so on the job rather than leave it queued for ever.
        log.exception("ai.enqueue_failed", job_id=job_id)
        _fail(job_id, "ai_unavailable", "The draft could not be started. Try again.")


# Running -----------------------------------------------------------------------------------


def _fail(job_id: int, code: str, reason: str, request_id: str = "") -> str:
    AiJob.objects.filter(pk=job_id, status__in=AiJob.ACTIVE).update(
        status=AiJob.Status.FAILED,
        error_code=code,
        error=reason[:300],
        request_id=request_id[:120],
        finished_at=timezone.now(),
    )
    log.warning("ai.draft_failed", job_id=job_id, code=code)
    return AiJob.Status.FAILED


def ai_draft_run(*, job_id: int) -> str:
    """Claim a queued job and draft it; answer its final status. Safe to run twice."""
    claimed = AiJob.objects.filter(pk=job_id, status=AiJob.Status.QUEUED).update(
        status=AiJob.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return "skipped"
    job = AiJob.objects.select_related("note", "patient", "requested_by").get(pk=job_id)
    try:
        return _draft(job)
    except AiError as error:
        return _fail(job.pk, error.code, error.reason, error.request_id)
    except SoftTimeLimitExceeded:
        return _fail(job.pk, "ai_timeout", "The AI service took too long. Try again later.")
    except Exception as error:
        # The class only: a message or traceback could quote clinical text. The clinician's
        # shorthand is kept on the job.
        log.error("ai.draft_crashed", job_id=job.pk, error=type(error).__name__)
        return _fail(job.pk, "ai_failed", "The draft could not be written. Try again later.")


def _still_allowed(job: AiJob) -> str | None:
    note = job.note
    if not ai_drafting_available():
        return "AI drafting was switched off before the draft was written."
    if note.status != ClinicalNote.Status.DRAFT or note.author_id != job.requested_by_id:
        return "The note was signed before the draft was written."
    return None


def _draft(job: AiJob) -> str:
    refused = _still_allowed(job)
    if refused:
        return _fail(job.pk, "ai_not_allowed", refused)
    sources = _sources(note=job.note, ids=list(job.source_note_ids))
    documents = _documents(note=job.note, ids=list(job.source_document_ids))
    redactor = redactor_for(
        patient=job.patient,
        staff=_staff_names([job.requested_by, *(s.author for s in sources)]),
    )
    system, user = build_prompt(
        format=job.format,
        shorthand=job.shorthand,
        sources=sources,
        documents=documents,
        redactor=redactor,
    )
    # On the record before anything leaves, and committed even if the call then fails.
    audit_record(
        request=None,
        actor=job.requested_by,
        action=AuditEvent.Action.DISCLOSE,
        targets=[Target("notes.aijob", str(job.pk), job.patient_id)],
        detail={
            "purpose": PURPOSE,
            "recipient": "openai",
            "model": job.model,
            "prompt_version": job.prompt_version,
            "note_id": job.note_id,
            "source_note_ids": list(job.source_note_ids),
            "source_document_ids": list(job.source_document_ids),
        },
    )
    result = structured_completion(
        system=system, user=user, schema=SCHEMAS[job.format], model=job.model
    )
    answer = {
        name: redactor.restore(str(value)) for name, value in result.parsed.model_dump().items()
    }
    return _save(job, result=result, body=render(format=job.format, draft=answer))


@transaction.atomic
def _save(job: AiJob, *, result: Any, body: str) -> str:
    note = ClinicalNote.objects.select_for_update().get(pk=job.note_id)
    if note.status != ClinicalNote.Status.DRAFT:
        return _fail(
            job.pk,
            "ai_not_allowed",
            "The note was signed before the draft arrived.",
            result.request_id,
        )
    now = timezone.now()
    cost = cost_microdollars(
        model=result.model,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
    )
    job_updated = AiJob.objects.filter(pk=job.pk, status=AiJob.Status.RUNNING).update(
        status=AiJob.Status.DONE,
        model=result.model[:80],
        request_id=result.request_id[:120],
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        cost_microdollars=cost,
        body_before=note.body,
        finished_at=now,
    )
    if not job_updated:
        return "skipped"  # expired as stale meanwhile; its answer is not used
    note.body = body
    note.kind = job.format
    note.ai_provenance = {
        "model": result.model,
        "prompt_version": job.prompt_version,
        "source_note_ids": list(job.source_note_ids),
        "source_document_ids": list(job.source_document_ids),
        "request_id": result.request_id,
        "job": job.pk,
        "usage": {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
        },
        "drafted_at": now.isoformat(),
    }
    note.save()
    audit_record(
        request=None,
        actor=job.requested_by,
        action=AuditEvent.Action.UPDATE,
        targets=[Target("notes.clinicalnote", str(note.pk), note.patient_id)],
        detail={"view": "ai_draft", "job": job.pk},
    )
    log.info(
        "ai.draft_done",
        job_id=job.pk,
        note_id=note.pk,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
    )
    return AiJob.Status.DONE


def ai_job_for(*, user: User, job_id: int) -> AiJob | None:
    """A job as its requester may see it; None for anyone else's."""
    return AiJob.objects.filter(pk=job_id, requested_by=user).first()


def ai_job_active(*, note: ClinicalNote, user: User) -> AiJob | None:
    """The user's draft of this note still being written, if any (the editor polls it)."""
    return (
        AiJob.objects.filter(note=note, requested_by=user, status__in=AiJob.ACTIVE)
        .order_by("-created_at", "-id")
        .first()
    )


def ai_job_latest(*, note: ClinicalNote, user: User) -> AiJob | None:
    return AiJob.objects.filter(note=note, requested_by=user).order_by("-created_at", "-id").first()


@transaction.atomic
def ai_draft_discard(*, note: ClinicalNote, by: User) -> ClinicalNote:
    """Put back what the draft said before the AI's text replaced it, and forget the
    provenance: nothing of the AI's answer stays in the note."""
    current = ClinicalNote.objects.select_for_update().get(pk=note.pk)
    if current.status == ClinicalNote.Status.SIGNED:
        raise NoteSigned()
    if current.author_id != by.pk:
        raise PermissionDenied("Only the author can change this draft.")
    job_id = (current.ai_provenance or {}).get("job")
    job = AiJob.objects.filter(pk=int(job_id), note=current).first() if job_id else None
    if job is None:
        raise ValidationFailed("This note has no AI draft to discard.")
    current.body = job.body_before
    current.ai_provenance = None
    current.save()
    log.info("ai.draft_discarded", job_id=job.pk, note_id=current.pk)
    return current
