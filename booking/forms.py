from django import forms
from phonenumber_field.formfields import PhoneNumberField

from appointments.online import OnlineDetails
from patients.validators import validate_date_of_birth


class PatientDetailsForm(forms.Form):
    # autocomplete/inputmode: the phone's keyboard and the browser's saved details fill these.
    given_name = forms.CharField(
        label="First name",
        max_length=80,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    family_name = forms.CharField(
        label="Last name",
        max_length=80,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    # A plain text field (dd/mm/yyyy), not a date picker: people type a birthday faster
    # than they scroll to 1950, and it behaves the same for keyboards and screen readers.
    date_of_birth = forms.DateField(
        help_text="For example 23/06/1985",
        validators=[validate_date_of_birth],
        widget=forms.DateInput(
            format="%d/%m/%Y",
            attrs={"inputmode": "numeric", "autocomplete": "bday", "placeholder": "dd/mm/yyyy"},
        ),
    )
    phone = PhoneNumberField(
        label="Mobile",
        region="AU",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    # The patient record's limit (254), not the form default (320): a longer address used
    # to fail only when a new record was made, which told existing patients apart.
    email = forms.EmailField(
        required=False, max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    notes = forms.CharField(
        label="Anything the clinic should know?",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    consent = forms.BooleanField(
        label="I agree to the clinic keeping these details and contacting me about this "
        "appointment.",
        error_messages={"required": "Please agree so the clinic can hold your booking."},
    )
    sms_consent = forms.BooleanField(label="Send me reminders by SMS", required=False)
    email_consent = forms.BooleanField(
        label="Email me the confirmation and reminders", required=False
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("email_consent") and not data.get("email"):
            self.add_error("email", "Enter your email address to get emails.")
        return data

    def details(self) -> OnlineDetails:
        data = self.cleaned_data
        return OnlineDetails(
            given_name=data["given_name"],
            family_name=data["family_name"],
            date_of_birth=data["date_of_birth"],
            phone=str(data["phone"]),
            email=data.get("email", ""),
            message=data.get("notes", ""),
            sms_consent=data.get("sms_consent", False),
            email_consent=data.get("email_consent", False),
        )
