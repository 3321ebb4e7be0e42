import uuid
import zoneinfo
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from nexus.fields import PhoneNumberField


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone such as Australia/Sydney.")


def clinic_logo_key(instance: "Clinic", filename: str) -> str:
    """A server-made key in the default storage (S3 in production), never the upload's name."""
    return f"clinics/{instance.pk or 'new'}/logo-{uuid.uuid4().hex}"


class Clinic(models.Model):
    name = models.CharField(max_length=120, unique=True)
    address = models.CharField(max_length=250, blank=True)
    phone = PhoneNumberField(blank=True)
    email = models.EmailField(blank=True)
    # Printed on letters' letterhead.
    abn = models.CharField("ABN", max_length=14, blank=True, help_text="e.g. 51 824 753 556")
    # Printed at the top right of letters; a PNG or JPEG checked by clinicians.services.
    logo = models.FileField(upload_to=clinic_logo_key, max_length=200, blank=True)
    timezone = models.CharField(
        max_length=64,
        default=settings.NEXUS_DEFAULT_CLINIC_TIMEZONE,
        validators=[validate_timezone],
        help_text="Appointments are shown and entered in this time zone.",
    )
    is_active = models.BooleanField(default=True)
    # The FileMaker import finds rows it made before by this id, so a rerun updates them.
    legacy_id = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @cached_property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Discipline(models.Model):
    name = models.CharField(max_length=80, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Clinician(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="clinician",
    )
    title = models.CharField(max_length=20, blank=True, help_text="e.g. Dr, Ms")
    given_name = models.CharField(max_length=80)
    family_name = models.CharField(max_length=80)
    disciplines = models.ManyToManyField(Discipline, related_name="clinicians", blank=True)
    clinics = models.ManyToManyField(Clinic, related_name="clinicians", blank=True)
    bio = models.TextField(blank=True)
    photo = models.ImageField(upload_to="clinicians/", blank=True)
    provider_number = models.CharField(max_length=12, blank=True)
    accepting_new_patients = models.BooleanField(default=True)
    listed_publicly = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    legacy_id = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["family_name", "given_name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.title, self.given_name, self.family_name) if p)


class WorkingHours(models.Model):
    """A weekly block of clinic-local time when a clinician sees patients at a clinic."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0
        TUESDAY = 1
        WEDNESDAY = 2
        THURSDAY = 3
        FRIDAY = 4
        SATURDAY = 5
        SUNDAY = 6

    clinician = models.ForeignKey(Clinician, on_delete=models.CASCADE, related_name="working_hours")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    # Wall-clock times in the clinic's zone, not UTC: 09:00 stays 09:00 across DST changes.
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["clinician", "weekday", "start_time"]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_time__gt=models.F("start_time")),
                name="working_hours_end_after_start",
                violation_error_message="Working hours must end after they start.",
            ),
        ]

    def __str__(self) -> str:
        day = self.Weekday(self.weekday).label
        return f"{self.clinician} {day} {self.start_time:%H:%M}-{self.end_time:%H:%M}"


class TimeOff(models.Model):
    """Leave or a blocked period. Without a clinic it applies at every clinic."""

    clinician = models.ForeignKey(Clinician, on_delete=models.CASCADE, related_name="time_off")
    clinic = models.ForeignKey(
        Clinic, on_delete=models.CASCADE, null=True, blank=True, related_name="time_off"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["start"]
        verbose_name_plural = "time off"
        indexes = [models.Index(fields=["clinician", "end", "start"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")),
                name="time_off_end_after_start",
                violation_error_message="Time off must end after it starts.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.clinician} off {self.start:%Y-%m-%d %H:%M}"
