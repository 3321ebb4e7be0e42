"""Letters from signed notes: to the patient, their referrer or their coordinator, on the
clinic's letterhead, rendered to PDF (fpdf2: pure Python wheels, no system packages) and
kept as a patient document (category "letter") so the chart holds what was sent."""

import hashlib
import io
from dataclasses import dataclass
from datetime import date

import structlog
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from fpdf import FPDF

from accounts.models import User
from clinicians.models import Clinic, Clinician
from clinicians.services import clinic_logo_bytes
from documents.models import Document
from nexus.errors import Conflict, ValidationFailed
from notes.models import ClinicalNote
from patients.models import Patient

RECIPIENTS = ("patient", "referrer", "coordinator")
_MARGIN = 20
_LOGO_W, _LOGO_H = 45, 18  # the box (mm) a logo is fitted into, keeping its shape

log = structlog.get_logger(__name__)


class NoteNotSigned(Conflict):
    code = "note_not_signed"
    default_detail = "Only a signed note can become a letter; sign it first."


@dataclass(frozen=True)
class Recipient:
    name: str
    lines: tuple[str, ...]  # organisation, address
    salutation: str


def _text(value: str) -> str:
    # The core PDF fonts speak Latin-1; anything else prints as "?".
    return value.encode("latin-1", "replace").decode("latin-1")


def letter_recipient(*, patient: Patient, to: str) -> Recipient:
    if to == "patient":
        name = f"{patient.given_name} {patient.family_name}"
        return Recipient(
            name=name,
            lines=tuple(x for x in (patient.address,) if x),
            salutation=f"Dear {patient.preferred_name or patient.given_name}",
        )
    if to == "referrer":
        referrer = patient.referrer
        if referrer is None:
            raise ValidationFailed("This patient has no referrer on file.", field="to")
        return Recipient(
            name=referrer.name,
            lines=tuple(x for x in (referrer.practice_name, referrer.address) if x),
            salutation=f"Dear {referrer.name}",
        )
    if to == "coordinator":
        coordinator = patient.coordinator
        if coordinator is None:
            raise ValidationFailed("This patient has no coordinator on file.", field="to")
        return Recipient(
            name=coordinator.name,
            lines=tuple(x for x in (coordinator.organisation,) if x),
            salutation=f"Dear {coordinator.name}",
        )
    raise ValidationFailed("Write to the patient, the referrer or the coordinator.", field="to")


def _clinic_for(note: ClinicalNote, clinician: Clinician | None) -> Clinic | None:
    if note.appointment_id is not None and note.appointment is not None:
        return note.appointment.clinic
    if note.patient.home_clinic is not None:
        return note.patient.home_clinic
    if clinician is not None:
        return clinician.clinics.order_by("pk").first()
    return None


def letter_pdf(
    *,
    note: ClinicalNote,
    recipient: Recipient,
    clinic: Clinic | None,
    clinician: Clinician | None,
    signer: User,
    on: date,
) -> bytes:
    patient = note.patient
    pdf = FPDF(format="A4")
    pdf.set_title(_text(f"Letter about {patient.given_name} {patient.family_name}"))
    pdf.set_author(_text(clinic.name if clinic else "Nexus"))
    pdf.set_creation_date(timezone.now())
    pdf.set_margins(_MARGIN, _MARGIN)
    pdf.set_auto_page_break(auto=True, margin=_MARGIN)
    pdf.add_page()

    # Letterhead: the clinic's name, address, contact and ABN; its logo at the top right.
    if clinic is not None:
        logo = clinic_logo_bytes(clinic)
        width = 0.0
        if logo is not None:
            try:
                pdf.image(
                    io.BytesIO(logo),
                    x=pdf.w - _MARGIN - _LOGO_W,
                    y=_MARGIN,
                    w=_LOGO_W,
                    h=_LOGO_H,
                    keep_aspect_ratio=True,
                )
                width = pdf.w - 2 * _MARGIN - _LOGO_W - 5
            except Exception:
                log.warning("letter.logo_unusable", clinic_id=clinic.pk)
        pdf.set_font("Helvetica", "B", 16)
        pdf.cell(width, 8, _text(clinic.name), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9)
        contact = [clinic.address]
        if clinic.phone:
            contact.append(f"Phone {clinic.phone.as_national}")
        if clinic.email:
            contact.append(clinic.email)
        if clinic.abn:
            contact.append(f"ABN {clinic.abn}")
        pdf.multi_cell(width, 4.5, _text("  |  ".join(c for c in contact if c)), align="L")
        pdf.ln(2)
        if width:
            pdf.set_y(max(pdf.get_y(), _MARGIN + _LOGO_H + 2))
        pdf.line(_MARGIN, pdf.get_y(), pdf.w - _MARGIN, pdf.get_y())
    pdf.ln(8)

    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 6, on.strftime("%-d %B %Y"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for line in (recipient.name, *recipient.lines):
        pdf.cell(0, 5.5, _text(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    if recipient.name != f"{patient.given_name} {patient.family_name}":
        born = f", born {patient.date_of_birth:%-d %B %Y}" if patient.date_of_birth else ""
        pdf.set_font("Helvetica", "B", 11)
        pdf.multi_cell(0, 5.5, _text(f"Re: {patient.given_name} {patient.family_name}{born}"))
        pdf.ln(3)
        pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 6, _text(f"{recipient.salutation},"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    if note.title:
        pdf.set_font("Helvetica", "B", 11)
        pdf.multi_cell(0, 6, _text(note.title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 5.5, _text(note.body.strip()), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)

    # Signature block: the clinician's name, discipline and provider number.
    pdf.cell(0, 6, "Yours sincerely,", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(12)
    pdf.set_font("Helvetica", "B", 11)
    name = clinician.display_name if clinician else (signer.get_full_name() or signer.email)
    pdf.cell(0, 6, _text(name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    if clinician is not None:
        disciplines = ", ".join(d.name for d in clinician.disciplines.all())
        if disciplines:
            pdf.cell(0, 5, _text(disciplines), new_x="LMARGIN", new_y="NEXT")
        if clinician.provider_number:
            pdf.cell(
                0,
                5,
                _text(f"Provider number {clinician.provider_number}"),
                new_x="LMARGIN",
                new_y="NEXT",
            )
    if clinic is not None:
        pdf.cell(0, 5, _text(clinic.name), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _letter_name(*, to: str, on: date, note: ClinicalNote) -> str:
    return f"letter-{to}-{on:%Y%m%d}-note{note.pk}.pdf"


def letter_addressed_to(document: Document) -> str | None:
    """Whom a letter document was written to ("patient", "referrer", "coordinator"), read
    back from the name `letter_create` gave it; None for any other document."""
    if document.category != Document.Category.LETTER:
        return None
    parts = document.original_name.split("-")
    return parts[1] if len(parts) == 4 and parts[0] == "letter" and parts[1] in RECIPIENTS else None


def letter_create(*, note: ClinicalNote, to: str, by: User) -> Document:
    """A letter from a signed note, stored as the patient's document (audited by the caller)."""
    if note.status != ClinicalNote.Status.SIGNED:
        raise NoteNotSigned()
    patient = note.patient
    recipient = letter_recipient(patient=patient, to=to)
    signer = note.signed_by or note.author
    clinician = (
        Clinician.objects.filter(user=signer).prefetch_related("disciplines", "clinics").first()
    )
    clinic = _clinic_for(note, clinician)
    today = timezone.localdate(timezone=clinic.tz) if clinic else timezone.localdate()
    data = letter_pdf(
        note=note, recipient=recipient, clinic=clinic, clinician=clinician, signer=signer, on=today
    )
    sha256 = hashlib.sha256(data).hexdigest()
    name = _letter_name(to=to, on=today, note=note)
    document = Document(
        patient=patient,
        category=Document.Category.LETTER,
        description=f"Letter to the {to} from note {note.pk}"[:200],
        original_name=name,
        content_type="application/pdf",
        size=len(data),
        sha256=sha256,
        uploaded_by=by,
    )
    document.file.save(name, ContentFile(data), save=False)
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:
        # The same letter made a moment ago (same bytes): that one is the letter.
        document.file.delete(save=False)
        existing = Document.objects.filter(
            patient=patient, sha256=sha256, deleted_at__isnull=True
        ).first()
        if existing is None:
            raise
        return existing
    return document
