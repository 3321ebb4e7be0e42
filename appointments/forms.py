import datetime as dt
from datetime import datetime
from typing import Any, cast

from django import forms

from appointments.models import Appointment, AppointmentType
from appointments.recurrence import MAX_OCCURRENCES
from clinicians.models import Clinic, Clinician
from nexus.dates import in_supported_range
from patients.models import Patient


class _WhenForm(forms.Form):
    """A clinic-local date and time, made aware in the clinic's zone."""

    # Browsers accept only ISO values in date and time inputs, whatever the locale.
    date = forms.DateField(widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    time = forms.TimeField(
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time", "step": 300})
    )

    def clean_date(self) -> dt.date:
        day: dt.date = self.cleaned_data["date"]
        if not in_supported_range(day):
            raise forms.ValidationError("Choose a date between 1900 and 2999.")
        return day

    def start_in(self, clinic: Clinic) -> datetime:
        return datetime.combine(
            self.cleaned_data["date"], self.cleaned_data["time"], tzinfo=clinic.tz
        )


REPEAT_CHOICES = [
    ("", "Does not repeat"),
    ("1", "Every week"),
    ("2", "Every 2 weeks"),
    ("3", "Every 3 weeks"),
    ("4", "Every 4 weeks"),
]


class BookingForm(_WhenForm):
    patient = forms.ModelChoiceField(
        queryset=Patient.objects.filter(archived=False),
        widget=forms.HiddenInput,
        error_messages={"required": "Find and choose the patient first."},
    )
    clinician = forms.ModelChoiceField(queryset=Clinician.objects.filter(is_active=True))
    clinic = forms.ModelChoiceField(
        queryset=Clinic.objects.filter(is_active=True), widget=forms.HiddenInput
    )
    appointment_type = forms.ModelChoiceField(
        queryset=AppointmentType.objects.filter(is_active=True), label="Type"
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    override_working_hours = forms.BooleanField(
        required=False, label="Book outside working hours or during time off"
    )
    # A repeat booking: the same weekday and clinic-local time, every N weeks, N times.
    repeat_weeks = forms.TypedChoiceField(
        label="Repeat",
        choices=REPEAT_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
    )
    repeat_count = forms.IntegerField(
        label="Times", min_value=2, max_value=MAX_OCCURRENCES, initial=6, required=False
    )
    skip_conflicts = forms.BooleanField(
        required=False, label="Skip the times that cannot be booked"
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("repeat_weeks") and not data.get("repeat_count"):
            self.add_error("repeat_count", "Say how many times.")
        return data

    def __init__(self, *args: Any, clinic: Clinic | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if clinic is not None:  # only the clinicians who work at the chosen clinic
            clinician = cast(forms.ModelChoiceField, self.fields["clinician"])
            clinician.queryset = Clinician.objects.filter(is_active=True, clinics=clinic)
        # The browser offers the start times that fit (a <datalist> beside the field).
        self.fields["time"].widget.attrs["list"] = "booking-start-times"

    def choice(self, name: str) -> Any:
        """What the field holds now, submitted or initial, or None while it is not valid:
        the panel works out the start times that fit before the form is complete."""
        try:
            return self.fields[name].clean(self[name].value())
        except forms.ValidationError:
            return None


SCOPE_THIS = "this"
SCOPE_FOLLOWING = "following"


def _scope_field(verb: str) -> forms.ChoiceField:
    # Both panel forms carry one, so each gets its own ids.
    """For an appointment of a repeat booking: change it alone, or the later ones too."""
    return forms.ChoiceField(
        label=f"{verb} which",
        choices=[
            (SCOPE_THIS, "This appointment only"),
            (SCOPE_FOLLOWING, "This and the following ones in the series"),
        ],
        initial=SCOPE_THIS,
        required=False,
        widget=forms.RadioSelect(attrs={"id": f"{verb.lower()}-scope"}),
    )


class RescheduleForm(_WhenForm):
    clinician = forms.ModelChoiceField(queryset=Clinician.objects.filter(is_active=True))
    override_working_hours = forms.BooleanField(
        required=False, label="Move outside working hours or during time off"
    )
    scope = _scope_field("Move")


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=250,
        widget=forms.TextInput(attrs={"placeholder": "e.g. patient unwell"}),
        error_messages={"required": "Say why the appointment is cancelled."},
    )
    scope = _scope_field("Cancel")


class StatusForm(forms.Form):
    to = forms.ChoiceField(choices=Appointment.Status.choices)


class AppointmentTypeForm(forms.ModelForm):
    class Meta:
        model = AppointmentType
        fields = [
            "name",
            "duration_minutes",
            "colour",
            "price",
            "xero_item_code",
            "gst_applies",
            "bookable_online",
            "is_active",
        ]
        widgets = {"colour": forms.TextInput(attrs={"type": "color"})}
        labels = {
            "duration_minutes": "Duration (minutes)",
            "price": "Price ($, before any GST)",
            "gst_applies": "GST applies",
            "is_active": "Active",
        }
        help_texts = {
            "duration_minutes": "New bookings take this long; booked appointments keep theirs.",
            "colour": "How this type shows on the calendar.",
            "bookable_online": "Patients can choose this type at /book/.",
            "is_active": "Inactive types can no longer be booked; past appointments keep them.",
        }
