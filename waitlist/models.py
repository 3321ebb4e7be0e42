"""The waitlist: patients waiting for an earlier time, and the times offered to them by SMS.

Its own app rather than part of `appointments`: an entry and its offers have a life of their
own (matching, offers that lapse, replies) that builds on booking without changing it; the
appointment services only say "this time is free again" (appointments/services.py).
"""

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from appointments.models import Appointment, AppointmentType
from clinicians.models import Clinic, Clinician, Discipline
from integrations.models import Message
from nexus.timezones import ZonedDateTime, in_zone
from patients.models import Patient

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class WaitlistSettings(models.Model):
    """The practice's waitlist choices, one row (pk=1)."""

    class Mode(models.TextChoices):
        ONE_AT_A_TIME = "one", "One patient at a time"
        FIRST_N = "first_n", "The first few patients at once"

    offer_mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.ONE_AT_A_TIME)
    offer_batch = models.PositiveSmallIntegerField(
        default=3, help_text="How many patients a freed time goes to at once (first-few mode)."
    )
    offer_expiry_minutes = models.PositiveSmallIntegerField(
        default=30, help_text="How long a patient has to reply YES."
    )

    class Meta:
        verbose_name_plural = "waitlist settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(offer_batch__gte=1, offer_batch__lte=20),
                name="waitlist_settings_batch_1_to_20",
            ),
            models.CheckConstraint(
                condition=Q(offer_expiry_minutes__gte=5, offer_expiry_minutes__lte=24 * 60),
                name="waitlist_settings_expiry_5_min_to_a_day",
            ),
        ]

    def __str__(self) -> str:
        return "Waitlist settings"

    @property
    def per_time(self) -> int:
        """How many patients one freed time is offered to at once."""
        return self.offer_batch if self.offer_mode == self.Mode.FIRST_N else 1


class WaitlistEntry(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Waiting"
        OFFERED = "offered", "Offer sent"
        BOOKED = "booked", "Booked"
        REMOVED = "removed", "Removed"
        EXPIRED = "expired", "Expired"

    class Urgency(models.IntegerChoices):
        ROUTINE = 1, "Routine"
        SOON = 2, "Soon"
        URGENT = 3, "Urgent"

    # Entries that may still be offered a time (one offer in flight at a time: OFFERED).
    WAITING = (Status.ACTIVE, Status.OFFERED)

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="waitlist_entries")
    clinician = models.ForeignKey(
        Clinician, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    discipline = models.ForeignKey(
        Discipline,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Any clinician of this discipline, when no one clinician is named.",
    )
    clinics = models.ManyToManyField(Clinic, related_name="+")
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="+"
    )
    days = models.JSONField(help_text="Weekdays that suit, 0 = Monday … 6 = Sunday.")
    # Wall-clock times in the clinic's zone, like working hours.
    earliest = models.TimeField(default=time(0, 0))
    latest = models.TimeField(default=time(23, 59))
    urgency = models.PositiveSmallIntegerField(choices=Urgency.choices, default=Urgency.ROUTINE)
    expires = models.DateField(
        null=True, blank=True, help_text="The last day (clinic-local) the patient waits."
    )
    notes = models.CharField(max_length=250, blank=True, help_text="Front-desk notes.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # The order a freed time is offered in: most urgent first, then longest waiting.
        ordering = ["-urgency", "created_at", "id"]
        verbose_name_plural = "waitlist entries"
        indexes = [models.Index(fields=["status", "urgency", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(clinician__isnull=False, discipline__isnull=True)
                    | Q(clinician__isnull=True, discipline__isnull=False)
                ),
                name="waitlist_entry_clinician_xor_discipline",
                violation_error_message="Choose a clinician or a discipline, not both.",
            ),
            models.CheckConstraint(
                condition=Q(latest__gt=F("earliest")),
                name="waitlist_entry_latest_after_earliest",
                violation_error_message="The latest time must be after the earliest.",
            ),
        ]

    def __str__(self) -> str:
        return f"Waitlist entry {self.pk} ({self.status})"

    @property
    def days_label(self) -> str:
        if len(self.days) == len(WEEKDAYS):
            return "Any day"
        return ", ".join(WEEKDAYS[d] for d in sorted(self.days))


class WaitlistOffer(models.Model):
    """One freed time offered to one entry's patient by SMS."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a reply"
        ACCEPTED = "accepted", "Booked"
        TAKEN = "taken", "Already taken"
        LAPSED = "lapsed", "Lapsed"
        DECLINED = "declined", "Declined"

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    clinician = models.ForeignKey(Clinician, on_delete=models.PROTECT, related_name="+")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["clinician", "start"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="waitlist_offer_end_after_start"
            ),
            # A time is offered to an entry once: a patient who let it lapse is not asked again.
            models.UniqueConstraint(
                fields=["entry", "clinician", "start"], name="waitlist_offer_once_per_entry"
            ),
            # One offer in flight per entry: a YES always answers exactly one time.
            models.UniqueConstraint(
                fields=["entry"],
                condition=Q(status="pending"),
                name="waitlist_offer_one_pending_per_entry",
            ),
            # The tie-breakers: a time is given to one patient, and an entry books once.
            models.UniqueConstraint(
                fields=["clinician", "start"],
                condition=Q(status="accepted"),
                name="waitlist_offer_one_accepted_per_time",
            ),
            models.UniqueConstraint(
                fields=["entry"],
                condition=Q(status="accepted"),
                name="waitlist_offer_entry_books_once",
            ),
        ]

    def __str__(self) -> str:
        return f"Waitlist offer {self.pk} ({self.status})"

    @property
    def local_start(self) -> ZonedDateTime:
        """Needs `clinic` loaded."""
        return in_zone(self.start, self.clinic.tz)
