from datetime import time
from typing import Any

from django import forms

from appointments.models import AppointmentType
from clinicians.models import Clinic, Clinician, Discipline
from patients.models import Patient
from waitlist.models import WEEKDAYS, WaitlistEntry, WaitlistSettings

_TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class WaitlistEntryForm(forms.Form):
    patient = forms.ModelChoiceField(
        queryset=Patient.objects.filter(archived=False),
        widget=forms.HiddenInput,
        error_messages={"required": "Find and choose the patient first."},
    )
    clinician = forms.ModelChoiceField(
        queryset=Clinician.objects.filter(is_active=True),
        required=False,
        empty_label="Any clinician of the discipline",
    )
    discipline = forms.ModelChoiceField(
        queryset=Discipline.objects.all(), required=False, empty_label="—"
    )
    clinics = forms.ModelMultipleChoiceField(
        queryset=Clinic.objects.filter(is_active=True), widget=forms.CheckboxSelectMultiple
    )
    appointment_type = forms.ModelChoiceField(
        queryset=AppointmentType.objects.filter(is_active=True), label="Type"
    )
    days = forms.TypedMultipleChoiceField(
        choices=list(enumerate(WEEKDAYS)),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        initial=[0, 1, 2, 3, 4],
        label="Days that suit",
    )
    earliest = forms.TimeField(widget=_TIME, initial=time(8, 0), label="From")
    latest = forms.TimeField(widget=_TIME, initial=time(18, 0), label="Until")
    urgency = forms.TypedChoiceField(
        choices=WaitlistEntry.Urgency.choices,
        coerce=int,
        initial=WaitlistEntry.Urgency.ROUTINE,
    )
    expires = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label="Waits until",
        help_text="Leave empty to wait until booked or removed.",
    )
    notes = forms.CharField(required=False, max_length=250)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("clinician")) == bool(data.get("discipline")):
            self.add_error("clinician", "Choose a clinician, or a discipline for any of them.")
        return data


class WaitlistSettingsForm(forms.ModelForm):
    class Meta:
        model = WaitlistSettings
        fields = ["offer_mode", "offer_batch", "offer_expiry_minutes"]
        labels = {
            "offer_mode": "Offer a freed time to",
            "offer_batch": "How many at once",
            "offer_expiry_minutes": "Minutes to reply",
        }
