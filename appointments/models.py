from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import RangeOperators
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from appointments.constraints import PostgresExclusionConstraint, RangeBoundary, TsTzRange
from appointments.recurrence import SeriesRule
from clinicians.models import Clinic, Clinician
from nexus.timezones import ZonedDateTime, in_zone, zone_label
from patients.models import Patient


class AppointmentType(models.Model):
    name = models.CharField(max_length=100, unique=True)
    duration_minutes = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(5), MaxValueValidator(8 * 60)]
    )
    colour = models.CharField(
        max_length=7,
        default="#3b82f6",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a hex colour such as #3b82f6.")],
    )
    price = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("0.00"), validators=[MinValueValidator(0)]
    )
    xero_item_code = models.CharField(max_length=30, blank=True)
    # Most allied-health services are GST-free (GST Act s 38-10); products and some
    # services (a gym class, a report for an insurer) are not.
    gst_applies = models.BooleanField(
        default=False,
        help_text="Invoices add 10% GST to the price. Leave off for GST-free health services.",
    )
    bookable_online = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    legacy_id = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.duration_minutes} min)"

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)


# No appointment is longer than this (a database constraint says so). It gives every
# "what overlaps this window" query a lower bound on `start`, so the (clinician, start)
# index reads the window instead of all of a clinician's past appointments.
MAX_APPOINTMENT_LENGTH = timedelta(hours=24)


class AppointmentQuerySet(models.QuerySet["Appointment"]):
    def overlapping(self, start: datetime, end: datetime) -> "AppointmentQuerySet":
        """Appointments that share any time with the half-open window [start, end)."""
        return self.filter(start__lt=end, end__gt=start, start__gt=start - MAX_APPOINTMENT_LENGTH)


class AppointmentSeries(models.Model):
    """Appointments booked together by one repeat rule ("weekly for six weeks").

    The rule is kept as RFC 5545 RRULE text (the subset appointments/recurrence.py reads:
    FREQ=WEEKLY with INTERVAL and COUNT or UNTIL), anchored at `start`, whose wall-clock
    time in the clinic's zone every occurrence keeps across daylight-saving changes. Each
    occurrence is an ordinary Appointment pointing here, with its own status and history.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="series")
    clinician = models.ForeignKey(Clinician, on_delete=models.PROTECT, related_name="series")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="series")
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="series"
    )
    start = models.DateTimeField(help_text="The first occurrence's start.")
    rule = models.CharField(max_length=100, help_text="RFC 5545 RRULE, e.g. FREQ=WEEKLY;COUNT=6")
    skipped = models.JSONField(
        default=list,
        blank=True,
        help_text="Occurrences left out at booking: [{start, conflict}], start in UTC.",
    )
    cancelled_from = models.DateTimeField(
        null=True, blank=True, help_text="Occurrences from this start on were cancelled."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start", "id"]
        verbose_name_plural = "appointment series"
        indexes = [models.Index(fields=["patient", "start"])]

    def __str__(self) -> str:
        return f"Series {self.pk}: {self.rule}"

    @property
    def local_start(self) -> ZonedDateTime:
        """The first occurrence in the clinic's zone (needs `clinic` loaded)."""
        return in_zone(self.start, self.clinic.tz)

    @property
    def description(self) -> str:
        """ "Every week, 6 times" (needs `clinic` loaded: UNTIL is read in its zone)."""
        return SeriesRule.from_rrule(self.rule, self.clinic.tz).describe()


class Appointment(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CONFIRMED = "confirmed", "Confirmed"
        ARRIVED = "arrived", "Arrived"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No show"

    class Source(models.TextChoices):
        STAFF = "staff", "Staff"
        ONLINE = "online", "Online"
        IMPORT = "import", "Import"

    # The only moves the front desk may make; anything else is refused with a clear error.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.BOOKED: frozenset(
            {Status.CONFIRMED, Status.ARRIVED, Status.CANCELLED, Status.NO_SHOW}
        ),
        Status.CONFIRMED: frozenset({Status.ARRIVED, Status.CANCELLED, Status.NO_SHOW}),
        Status.ARRIVED: frozenset({Status.COMPLETED}),
        Status.COMPLETED: frozenset(),
        Status.CANCELLED: frozenset(),
        Status.NO_SHOW: frozenset(),
    }
    # The order the panel offers the moves in, the clinic day's order (TRANSITIONS is a map of
    # sets, whose iteration order changes between processes).
    STATUS_ORDER = (
        Status.CONFIRMED,
        Status.ARRIVED,
        Status.COMPLETED,
        Status.NO_SHOW,
        Status.CANCELLED,
    )
    # A slip of the finger on the day can be taken back: each of these returns to the status
    # before it (arrival and no-show to `status_before_visit`, completion to arrival).
    UNDOABLE = (Status.ARRIVED, Status.NO_SHOW, Status.COMPLETED)
    # Statuses that hold the clinician's time; cancelled and no-show slots are free again.
    ACTIVE_STATUSES = (Status.BOOKED, Status.CONFIRMED, Status.ARRIVED, Status.COMPLETED)

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    clinician = models.ForeignKey(Clinician, on_delete=models.PROTECT, related_name="appointments")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="appointments")
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="appointments"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)
    notes = models.TextField(blank=True, help_text="Front-desk notes, not clinical notes.")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STAFF)
    cancellation_reason = models.CharField(max_length=250, blank=True)
    status_before_visit = models.CharField(
        max_length=10,
        choices=Status.choices,
        blank=True,
        help_text="Booked or confirmed: what undoing an arrival or a no-show returns to.",
    )
    legacy_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    series = models.ForeignKey(
        AppointmentSeries,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
        help_text="The repeat booking this occurrence belongs to, if any.",
    )
    # A past double booking from FileMaker (which allowed them), kept as history: it stays
    # outside the no-overlap rule. Only imports set it (a constraint says so).
    imported_overlap = models.BooleanField(default=False, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["start", "id"]
        permissions = [
            ("override_working_hours", "Can book outside a clinician's working hours"),
        ]
        indexes = [
            models.Index(fields=["clinician", "start"]),
            models.Index(fields=["clinic", "start"]),
            models.Index(fields=["patient", "start"]),
            models.Index(fields=["start", "id"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")),
                name="appointment_end_after_start",
                violation_error_message="An appointment must end after it starts.",
            ),
            models.CheckConstraint(
                condition=models.Q(end__lte=models.F("start") + MAX_APPOINTMENT_LENGTH),
                name="appointment_at_most_a_day",
                violation_error_message="An appointment cannot last more than 24 hours.",
            ),
            models.CheckConstraint(
                condition=models.Q(imported_overlap=False) | models.Q(source="import"),
                name="appointment_imported_overlap_only_imports",
            ),
            PostgresExclusionConstraint(
                name="appointment_no_overlap",
                expressions=[
                    ("clinician", RangeOperators.EQUAL),
                    # Half-open [start, end): 10:00-10:30 and 10:30-11:00 do not clash.
                    (TsTzRange("start", "end", RangeBoundary()), RangeOperators.OVERLAPS),
                ],
                condition=models.Q(
                    status__in=["booked", "confirmed", "arrived", "completed"],
                    imported_overlap=False,
                ),
                violation_error_code="slot_unavailable",
                violation_error_message="The clinician already has an appointment at that time.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.appointment_type.name} at {self.start:%Y-%m-%d %H:%M} UTC"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    # Every time shown to a person is in the clinic's zone (nexus/timezones.py explains why
    # templates cannot use `start` directly). Needs `clinic` loaded: select it with the row.
    @property
    def local_start(self) -> ZonedDateTime:
        return in_zone(self.start, self.clinic.tz)

    @property
    def local_end(self) -> ZonedDateTime:
        return in_zone(self.end, self.clinic.tz)

    @property
    def zone_label(self) -> str:
        """'Perth time (AWST)': said beside times on public pages."""
        return zone_label(self.clinic.timezone, self.clinic.tz, self.start)

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.status]


class OnlineBooking(models.Model):
    """A booking a member of the public made at /book/, waiting for reception.

    The booking holds its time at once, under a new patient record made from what was
    typed: nothing typed by an anonymous visitor is ever attached to an existing patient
    (knowing someone's name, birthday and mobile is not proof of being them). Reception
    reviews each one and either accepts the new record or merges the booking into the
    patient it matches. The visitor's message stays here, out of the record, until then.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        ACCEPTED = "accepted", "Accepted as a new patient"
        MERGED = "merged", "Merged into an existing patient"
        DECLINED = "declined", "Declined"

    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, related_name="online_booking"
    )
    message = models.TextField(blank=True, help_text="What the patient wrote; not yet accepted.")
    mobile_verified = models.BooleanField(
        default=False, help_text="The patient proved the mobile number with an SMS code."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    merged_from = models.ForeignKey(
        Patient,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The record made at booking time, archived when merged into another.",
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Online booking {self.pk} ({self.status})"


class SlotHold(models.Model):
    """A time a visitor to /book/ has chosen and is holding while they type their details.

    Nobody else can book over a live hold (the booking services check for one under the
    clinician's schedule lock, see appointments/holds.py), and two holds never overlap (the
    exclusion constraint on PostgreSQL, the serialised writers on SQLite). A hold ends when
    it becomes the booking, when the visitor lets it go, or at `expires_at`; an expired hold
    blocks nobody, and is deleted by whoever next books that clinician, or by the sweep. The
    visitor proves it is theirs with `key`, kept in their session only: never in a URL."""

    key = models.CharField(max_length=64, unique=True)
    clinician = models.ForeignKey(Clinician, on_delete=models.CASCADE, related_name="+")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.CASCADE, related_name="+"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["clinician", "start"]),
            models.Index(fields=["expires_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="slot_hold_end_after_start"
            ),
            PostgresExclusionConstraint(
                name="slot_hold_no_overlap",
                expressions=[
                    ("clinician", RangeOperators.EQUAL),
                    (TsTzRange("start", "end", RangeBoundary()), RangeOperators.OVERLAPS),
                ],
                violation_error_code="slot_held",
                violation_error_message="Someone is already holding that time.",
            ),
        ]

    def __str__(self) -> str:
        return f"Hold on clinician {self.clinician_id} at {self.start:%Y-%m-%d %H:%M} UTC"
