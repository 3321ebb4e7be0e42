import itertools
from datetime import datetime
from typing import Any

from django import forms
from django.forms import BaseInlineFormSet, inlineformset_factory

from clinicians.models import Clinic, Clinician, TimeOff, WorkingHours
from clinicians.services import clinic_logo_check
from documents.validation import UploadRejected

_TIME = forms.TimeInput(format="%H:%M", attrs={"type": "time", "step": 300})
_DATETIME = forms.DateTimeInput(format="%Y-%m-%dT%H:%M", attrs={"type": "datetime-local"})


class ClinicianForm(forms.ModelForm):
    class Meta:
        model = Clinician
        fields = [
            "title",
            "given_name",
            "family_name",
            "disciplines",
            "clinics",
            "provider_number",
            "bio",
            "accepting_new_patients",
            "listed_publicly",
            "is_active",
        ]
        widgets = {
            "disciplines": forms.CheckboxSelectMultiple,
            "clinics": forms.CheckboxSelectMultiple,
            "bio": forms.Textarea(attrs={"rows": 4}),
        }
        labels = {"is_active": "Active", "listed_publicly": "Listed for online booking"}
        help_texts = {
            "bio": "Shown to patients on the online booking pages.",
            "listed_publicly": "Patients can find and book this clinician at /book/.",
            "is_active": "Inactive clinicians leave the calendar and cannot be booked.",
        }


class WorkingHoursForm(forms.ModelForm):
    class Meta:
        model = WorkingHours
        fields = ["clinic", "weekday", "start_time", "end_time"]
        widgets = {"start_time": _TIME, "end_time": _TIME}
        labels = {"start_time": "From", "end_time": "To"}


class BaseWorkingHoursFormSet(BaseInlineFormSet):
    """The week's hours as one form: each row must be at a clinic the clinician works at,
    and no two rows may overlap on the same day (a clinician is in one place at a time)."""

    def __init__(self, *args: Any, clinics: list[Clinic] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinics = clinics

    def clean(self) -> None:
        super().clean()
        rows = [
            form
            for form in self.forms
            if form.is_valid() and form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if self.clinics is not None:
            for form in rows:
                if form.cleaned_data["clinic"] not in self.clinics:
                    form.add_error("clinic", "Tick this clinic above first, or choose another.")
        by_day: dict[int, list[forms.BaseForm]] = {}
        for form in rows:
            by_day.setdefault(form.cleaned_data["weekday"], []).append(form)
        for forms_on_day in by_day.values():
            forms_on_day.sort(key=lambda f: f.cleaned_data["start_time"])
            for before, after in itertools.pairwise(forms_on_day):
                if after.cleaned_data["start_time"] < before.cleaned_data["end_time"]:
                    day = WorkingHours.Weekday(after.cleaned_data["weekday"]).label
                    after.add_error(
                        "start_time",
                        f"Overlaps {day} {before.cleaned_data['start_time']:%H:%M} to "
                        f"{before.cleaned_data['end_time']:%H:%M}.",
                    )


WorkingHoursFormSet = inlineformset_factory(
    Clinician,
    WorkingHours,
    form=WorkingHoursForm,
    formset=BaseWorkingHoursFormSet,
    extra=2,
    can_delete=True,
)


class TimeOffForm(forms.ModelForm):
    """Leave entered in the clinic's local time (the clinician's first clinic when the leave
    applies everywhere)."""

    start = forms.DateTimeField(widget=_DATETIME, input_formats=["%Y-%m-%dT%H:%M"])
    end = forms.DateTimeField(widget=_DATETIME, input_formats=["%Y-%m-%dT%H:%M"])

    class Meta:
        model = TimeOff
        fields = ["clinic", "start", "end", "reason"]
        labels = {"clinic": "Clinic (leave empty for all)"}

    def __init__(self, *args: Any, clinician: Clinician, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinician = self.instance.clinician = clinician
        self.fields["clinic"].queryset = clinician.clinics.all()  # type: ignore[attr-defined]

    def _local(self, value: datetime) -> datetime:
        clinic = self.cleaned_data.get("clinic") or self.clinician.clinics.first()
        zone = clinic.tz if clinic else value.tzinfo
        return value.replace(tzinfo=zone)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            data["start"], data["end"] = self._local(start), self._local(end)
            if data["end"] <= data["start"]:
                self.add_error("end", "Time off must end after it starts.")
        return data


_ABN_WEIGHTS = (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)


def abn_valid(abn: str) -> bool:
    """The ATO's check: 11 digits, subtract 1 from the first, weighted sum divisible by 89."""
    digits = [int(c) for c in abn if c.isdigit()]
    if len(digits) != 11 or len(abn.replace(" ", "")) != 11:
        return False
    digits[0] -= 1
    return sum(d * w for d, w in zip(digits, _ABN_WEIGHTS, strict=True)) % 89 == 0


class ClinicForm(forms.ModelForm):
    """A clinic's details as its letters print them; the logo is checked by its bytes."""

    logo = forms.FileField(
        label="Logo",
        required=False,
        help_text="PNG or JPEG, at most 512 KB. Printed at the top right of letters.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg"}),
    )
    remove_logo = forms.BooleanField(label="Remove the logo", required=False)

    class Meta:
        model = Clinic
        fields = ["name", "address", "phone", "email", "abn", "timezone", "is_active"]
        labels = {"is_active": "Active"}
        help_texts = {"address": "One line, as the letterhead prints it."}

    def clean_abn(self) -> str:
        abn = " ".join(self.cleaned_data["abn"].split())
        if abn and not abn_valid(abn):
            raise forms.ValidationError("That is not a valid ABN (11 digits, e.g. 51 824 753 556).")
        return abn

    def clean_logo(self) -> Any:
        logo = self.cleaned_data.get("logo")
        if logo:
            try:
                clinic_logo_check(logo)
            except UploadRejected as error:
                raise forms.ValidationError(error.detail) from None
        return logo
