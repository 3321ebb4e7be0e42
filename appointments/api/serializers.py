import zoneinfo
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rest_framework import serializers

from appointments.models import Appointment, AppointmentType
from clinicians.models import Clinic, Clinician
from nexus.api.fields import AwareDateTimeField
from patients.models import Patient


class AppointmentTypeSerializer(serializers.ModelSerializer[AppointmentType]):
    class Meta:
        model = AppointmentType
        fields = [
            "id",
            "name",
            "duration_minutes",
            "colour",
            "price",
            "xero_item_code",
            "gst_applies",
            "bookable_online",
            "is_active",
        ]


# What a listed appointment needs, read with `values()`: five model instances a row (the
# appointment and its patient, clinician, clinic and type) cost more than the query itself
# on a page of 25 (issue 16).
LIST_COLUMNS = (
    "id",
    "patient_id",
    "patient__given_name",
    "patient__family_name",
    "clinician_id",
    "clinician__title",
    "clinician__given_name",
    "clinician__family_name",
    "clinic_id",
    "clinic__timezone",
    "appointment_type_id",
    "appointment_type__name",
    "appointment_type__colour",
    "start",
    "end",
    "status",
    "source",
    "notes",
    "cancellation_reason",
    "series_id",
    "created_at",
)


class AppointmentRow(dict[str, Any]):
    """One listed appointment as `values(*LIST_COLUMNS)` reads it: a dict, which the cursor
    paginator reads its position from, with the `_meta`, `pk` and `patient_id` the audit
    trail records a model instance by."""

    _meta = Appointment._meta

    @property
    def pk(self) -> int:
        return int(self["id"])

    @property
    def patient_id(self) -> int:
        return int(self["patient_id"])


class AppointmentSerializer(serializers.Serializer[Appointment]):
    """Read shape of an appointment. Times are in the clinic's zone, with their offset.

    Declared fields document the schema; `to_representation` builds the dict directly,
    because ModelSerializer machinery costs ~50x more per row on calendar-sized lists.
    """

    id = serializers.IntegerField()
    patient = serializers.IntegerField()
    patient_name = serializers.CharField()
    clinician = serializers.IntegerField()
    clinician_name = serializers.CharField()
    clinic = serializers.IntegerField()
    appointment_type = serializers.IntegerField()
    appointment_type_name = serializers.CharField()
    colour = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=Appointment.Status.choices)
    source = serializers.ChoiceField(choices=Appointment.Source.choices)  # type: ignore[assignment]
    notes = serializers.CharField()
    cancellation_reason = serializers.CharField()
    series = serializers.IntegerField(
        allow_null=True, help_text="The repeat booking this appointment belongs to."
    )
    created_at = serializers.DateTimeField()

    def to_representation(self, appt: Appointment | AppointmentRow) -> dict[str, Any]:
        if isinstance(appt, AppointmentRow):
            return rows_representation([appt])[0]
        tz = appt.clinic.tz
        return {
            "id": appt.pk,
            "patient": appt.patient_id,
            "patient_name": appt.patient.full_name,
            "clinician": appt.clinician_id,
            "clinician_name": appt.clinician.display_name,
            "clinic": appt.clinic_id,
            "appointment_type": appt.appointment_type_id,
            "appointment_type_name": appt.appointment_type.name,
            "colour": appt.appointment_type.colour,
            "start": appt.start.astimezone(tz).isoformat(),
            "end": appt.end.astimezone(tz).isoformat(),
            "status": appt.status,
            "source": appt.source,
            "notes": appt.notes,
            "cancellation_reason": appt.cancellation_reason,
            "series": appt.series_id,
            "created_at": appt.created_at.isoformat(),
        }


def rows_representation(rows: Iterable[AppointmentRow]) -> list[dict[str, Any]]:
    """Listed rows as AppointmentSerializer(rows, many=True).data gives them: the shape a
    model instance gets, key for key (Patient.full_name, Clinician.display_name and
    Clinic.tz spelt out).

    For a page, without the serializer: DRF's list serializer and a call per row cost
    more than the rows' own values, and formatting times most of those (issue 16). So each
    clinic's zone, each clinician's name and each start or end time (in its zone) is
    worked out once a page: a page sorted by start repeats its times (appointments on the
    same slots; one ending as the next begins).
    """
    zones: dict[str, zoneinfo.ZoneInfo] = {}
    clinicians: dict[int, str] = {}
    times: dict[tuple[datetime, str], str] = {}
    shown = []
    for row in rows:
        zone = row["clinic__timezone"]
        tz = zones.get(zone)
        if tz is None:
            tz = zones[zone] = zoneinfo.ZoneInfo(zone)
        clinician = row["clinician_id"]
        clinician_name = clinicians.get(clinician)
        if clinician_name is None:
            parts = (
                row["clinician__title"],
                row["clinician__given_name"],
                row["clinician__family_name"],
            )
            clinician_name = clinicians[clinician] = " ".join(part for part in parts if part)
        start_at = (row["start"], zone)
        start = times.get(start_at)
        if start is None:
            start = times[start_at] = row["start"].astimezone(tz).isoformat()
        end_at = (row["end"], zone)
        end = times.get(end_at)
        if end is None:
            end = times[end_at] = row["end"].astimezone(tz).isoformat()
        shown.append(
            {
                "id": row["id"],
                "patient": row["patient_id"],
                "patient_name": f"{row['patient__given_name']} {row['patient__family_name']}",
                "clinician": clinician,
                "clinician_name": clinician_name,
                "clinic": row["clinic_id"],
                "appointment_type": row["appointment_type_id"],
                "appointment_type_name": row["appointment_type__name"],
                "colour": row["appointment_type__colour"],
                "start": start,
                "end": end,
                "status": row["status"],
                "source": row["source"],
                "notes": row["notes"],
                "cancellation_reason": row["cancellation_reason"],
                "series": row["series_id"],
                "created_at": row["created_at"].isoformat(),
            }
        )
    return shown


class AppointmentBookSerializer(serializers.Serializer[Appointment]):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    clinician = serializers.PrimaryKeyRelatedField(queryset=Clinician.objects.all())
    clinic = serializers.PrimaryKeyRelatedField(queryset=Clinic.objects.all())
    appointment_type = serializers.PrimaryKeyRelatedField(queryset=AppointmentType.objects.all())
    start = AwareDateTimeField()
    end = AwareDateTimeField(required=False, help_text="Defaults to start + the type's duration.")
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    override_working_hours = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Book outside working hours or during time off. Never overrides a clash.",
    )


class AppointmentUpdateSerializer(serializers.Serializer[Appointment]):
    """PATCH: move the appointment (time, clinician, clinic) and/or edit its front-desk notes."""

    clinician = serializers.PrimaryKeyRelatedField(queryset=Clinician.objects.all(), required=False)
    clinic = serializers.PrimaryKeyRelatedField(queryset=Clinic.objects.all(), required=False)
    start = AwareDateTimeField(required=False)
    end = AwareDateTimeField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True)
    override_working_hours = serializers.BooleanField(required=False, default=False)


class CancelSerializer(serializers.Serializer[None]):
    reason = serializers.CharField(max_length=250)
