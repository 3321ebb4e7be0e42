from django.conf import settings
from django.db import models

from clinicians.models import Clinic
from nexus.fields import PhoneNumberField
from patients.fields import DvaNumberField, MedicareNumberField, NdisNumberField
from patients.validators import validate_date_of_birth, validate_postcode


class Referrer(models.Model):
    """A GP or specialist who refers patients and receives letters."""

    name = models.CharField(max_length=150)
    practice_name = models.CharField(max_length=150, blank=True)
    provider_number = models.CharField(max_length=12, blank=True)
    phone = PhoneNumberField(blank=True)
    fax = PhoneNumberField(blank=True)
    email = models.EmailField(blank=True)
    address = models.CharField(max_length=250, blank=True)
    legacy_id = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.practice_name})" if self.practice_name else self.name


class Coordinator(models.Model):
    """An NDIS support coordinator or case manager."""

    name = models.CharField(max_length=150)
    organisation = models.CharField(max_length=150, blank=True)
    phone = PhoneNumberField(blank=True)
    email = models.EmailField(blank=True)
    legacy_id = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.organisation})" if self.organisation else self.name


class AustralianState(models.TextChoices):
    ACT = "ACT", "Australian Capital Territory"
    NSW = "NSW", "New South Wales"
    NT = "NT", "Northern Territory"
    QLD = "QLD", "Queensland"
    SA = "SA", "South Australia"
    TAS = "TAS", "Tasmania"
    VIC = "VIC", "Victoria"
    WA = "WA", "Western Australia"


# What staff may enter or change on a patient, in the order the form shows it; the API
# offers the same fields (patients/api/serializers.py) with the record's own around them.
PATIENT_EDITABLE_FIELDS = (
    "given_name",
    "family_name",
    "preferred_name",
    "date_of_birth",
    "sex",
    "phone",
    "email",
    "address",
    "suburb",
    "state",
    "postcode",
    "medicare_number",
    "medicare_irn",
    "ndis_number",
    "dva_number",
    "funding_type",
    "home_clinic",
    "referrer",
    "coordinator",
    "emergency_contact_name",
    "emergency_contact_phone",
    "sms_consent",
    "email_consent",
    "reminder_channel",
    "alerts",
)


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        INTERSEX = "intersex", "Intersex"
        NOT_STATED = "not_stated", "Not stated"

    class Funding(models.TextChoices):
        PRIVATE = "private", "Private"
        MEDICARE = "medicare", "Medicare (CDM / EPC)"
        NDIS = "ndis", "NDIS"
        DVA = "dva", "DVA"
        WORKCOVER = "workcover", "WorkCover"
        HOME_CARE = "home_care", "Home Care Package"
        OTHER = "other", "Other"

    given_name = models.CharField(max_length=80)
    family_name = models.CharField(max_length=80)
    preferred_name = models.CharField(max_length=80, blank=True)
    date_of_birth = models.DateField(  # searched by reception
        null=True, blank=True, db_index=True, validators=[validate_date_of_birth]
    )
    sex = models.CharField(max_length=12, choices=Sex.choices, default=Sex.NOT_STATED)
    # Phone and Medicare number are searched by prefix: their indexes are PostgreSQL's
    # own (patients migrations 0008, 0009), which also serve `=`.
    phone = PhoneNumberField(blank=True)
    email = models.EmailField(blank=True)
    address = models.CharField(max_length=250, blank=True)
    suburb = models.CharField(max_length=80, blank=True)
    state = models.CharField(max_length=3, blank=True, choices=AustralianState.choices)
    postcode = models.CharField(max_length=4, blank=True, validators=[validate_postcode])
    medicare_number = MedicareNumberField(max_length=10, blank=True)
    medicare_irn = models.CharField(
        "Medicare IRN", max_length=1, blank=True, help_text="Position on the card, 1-9."
    )
    ndis_number = NdisNumberField("NDIS number", max_length=9, blank=True)
    dva_number = DvaNumberField(
        "DVA number", max_length=9, blank=True, help_text="As on the card, e.g. NX123456."
    )
    funding_type = models.CharField(max_length=12, choices=Funding.choices, default=Funding.PRIVATE)
    emergency_contact_name = models.CharField(max_length=150, blank=True)
    emergency_contact_phone = PhoneNumberField(blank=True)
    home_clinic = models.ForeignKey(
        Clinic, on_delete=models.SET_NULL, null=True, blank=True, related_name="patients"
    )
    referrer = models.ForeignKey(
        Referrer, on_delete=models.SET_NULL, null=True, blank=True, related_name="patients"
    )
    coordinator = models.ForeignKey(
        Coordinator, on_delete=models.SET_NULL, null=True, blank=True, related_name="patients"
    )
    sms_consent = models.BooleanField("SMS consent", default=False)
    email_consent = models.BooleanField(default=False)
    reminder_channel = models.CharField(
        "Confirmations and reminders by",
        max_length=5,
        choices=[("sms", "SMS"), ("email", "Email"), ("both", "SMS and email")],
        default="sms",
        help_text="Email needs email consent and an address; otherwise SMS is used.",
    )
    alerts = models.TextField(blank=True, help_text="Allergies, risks, access needs.")
    archived = models.BooleanField(default=False)
    legacy_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["family_name", "given_name", "id"]
        # The list's whole order, id included: the page stops after its rows. Without the
        # id PostgreSQL read every patient of the first names on the page (93 rows for 26
        # on 100k) to sort them by id (issue 16).
        indexes = [models.Index(fields=["family_name", "given_name", "id"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(medicare_irn__in=["", *"123456789"]),
                name="patient_medicare_irn_digit",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def postal_address(self) -> str:
        """Whatever parts of the address were entered: "12 Smith St, Parramatta NSW 2150",
        or just "Parramatta NSW 2150" when there is no street line."""
        locality = " ".join(part for part in (self.suburb, self.state, self.postcode) if part)
        return ", ".join(part for part in (self.address, locality) if part)
