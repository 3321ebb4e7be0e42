from typing import Any

from django import forms

from nexus.templatetags.phones import phone_national
from patients.models import PATIENT_EDITABLE_FIELDS, Patient


class PatientForm(forms.ModelForm):
    """Registration and edits at the front desk; the model's validators give the errors
    (Medicare check digit, phone numbers, NDIS format, date of birth)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Stored in E.164; edited the way it is written here ("0412 345 678").
        for name in ("phone", "emergency_contact_phone"):
            if value := getattr(self.instance, name, None):
                self.initial[name] = phone_national(value)
        # Left out of a post (older forms, scripts): keep what the patient had.
        self.fields["reminder_channel"].required = False

    def clean_reminder_channel(self) -> str:
        return self.cleaned_data.get("reminder_channel") or self.instance.reminder_channel

    class Meta:
        model = Patient
        fields = list(PATIENT_EDITABLE_FIELDS)
        widgets = {
            "date_of_birth": forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
            "alerts": forms.Textarea(attrs={"rows": 2}),
            "postcode": forms.TextInput(
                attrs={"inputmode": "numeric", "pattern": "[0-9]{4}", "autocomplete": "off"}
            ),
        }
