from typing import Any, cast

from django import forms

from documents.models import Document
from notes.models import AI_DRAFT_FORMATS, ClinicalNote
from notes.outlines import is_untouched


class NoteForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[c for c in ClinicalNote.Kind.choices if c[0] != ClinicalNote.Kind.ADDENDUM]
    )
    title = forms.CharField(max_length=200, required=False)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 12}), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        untouched = is_untouched(data.get("kind", ""), data.get("body", ""))
        if not data.get("title", "").strip() and untouched:
            raise forms.ValidationError("Write something first: an empty note is not saved.")
        return data


class NoteEditForm(forms.Form):
    title = forms.CharField(max_length=200, required=False)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 14}), required=False)


class AddendumForm(forms.Form):
    body = forms.CharField(
        label="Addendum",
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Write the addendum text."},
    )


class AiDraftForm(forms.Form):
    """The editor's "Draft with AI" form: shorthand, a format, and signed notes to draw on."""

    shorthand = forms.CharField(
        label="Shorthand",
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Your notes as you jot them, e.g. “R foot pain 3/52, worse AM, PF tender”.",
    )
    format = forms.ChoiceField(label="Write it as", choices=AI_DRAFT_FORMATS)
    source_note_ids = forms.TypedMultipleChoiceField(
        label="Draw on these signed notes",
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    source_document_ids = forms.TypedMultipleChoiceField(
        label="And these documents' descriptions",
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(
        self,
        *args: Any,
        sources: list[ClinicalNote],
        documents: list[Document] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        notes = cast(forms.TypedMultipleChoiceField, self.fields["source_note_ids"])
        notes.choices = [(n.pk, n.name + (f": {n.title}" if n.title else "")) for n in sources]
        described = cast(forms.TypedMultipleChoiceField, self.fields["source_document_ids"])
        described.choices = [
            (d.pk, f"{d.get_category_display()}: {d.description}") for d in documents or []
        ]
