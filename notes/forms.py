from typing import Any

from django import forms

from notes.models import ClinicalNote
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
