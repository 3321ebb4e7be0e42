"""Starting text for a new note, by kind: the headings a clinician fills in."""

from notes.models import ClinicalNote

Kind = ClinicalNote.Kind

OUTLINES: dict[str, str] = {
    Kind.SOAP: "Subjective:\n\nObjective:\n\nAssessment:\n\nPlan:\n",
    Kind.INITIAL_ASSESSMENT: (
        "Presenting complaint:\n\nHistory:\n\nMedical history and medications:\n\n"
        "Examination:\n\nAssessment:\n\nGoals:\n\nPlan:\n"
    ),
    Kind.AT_REPORT: (
        "Participant and goals:\n\nCurrent function:\n\nAssistive technology recommended:\n\n"
        "Trial and outcomes:\n\nRisks and mitigations:\n\nCosting:\n"
    ),
    Kind.PROGRESS: "",
    Kind.LETTER: "",
}


def outline_for(kind: str) -> str:
    return OUTLINES.get(kind, "")


def is_untouched(kind: str, body: str) -> bool:
    """True when the body is empty or still just the outline: nothing was written."""
    written = body.strip()
    return not written or written == outline_for(kind).strip()
