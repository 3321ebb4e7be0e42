from typing import Any

from rest_framework import serializers

from appointments.models import AppointmentType
from clinicians.models import Clinic, Clinician, Discipline
from patients.models import Patient
from waitlist.models import WaitlistEntry, WaitlistOffer

URGENCY_NAMES = {u.value: u.name.lower() for u in WaitlistEntry.Urgency}
URGENCY_VALUES = {name: value for value, name in URGENCY_NAMES.items()}


class WaitlistAddSerializer(serializers.Serializer[WaitlistEntry]):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    clinician = serializers.PrimaryKeyRelatedField(
        queryset=Clinician.objects.all(),
        required=False,
        allow_null=True,
        help_text="The clinician wanted; or give `discipline` for any clinician of it.",
    )
    discipline = serializers.PrimaryKeyRelatedField(
        queryset=Discipline.objects.all(), required=False, allow_null=True
    )
    clinics = serializers.PrimaryKeyRelatedField(
        queryset=Clinic.objects.all(), many=True, allow_empty=False
    )
    appointment_type = serializers.PrimaryKeyRelatedField(queryset=AppointmentType.objects.all())
    days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        allow_empty=False,
        max_length=7,
        help_text="Weekdays that suit: 0 = Monday … 6 = Sunday.",
    )
    earliest = serializers.TimeField(help_text="Clinic-local, e.g. 08:30.")
    latest = serializers.TimeField(help_text="Clinic-local; the appointment ends by then.")
    urgency = serializers.ChoiceField(choices=list(URGENCY_VALUES), default="routine")
    expires = serializers.DateField(
        required=False, allow_null=True, help_text="The last day the patient waits."
    )
    notes = serializers.CharField(max_length=250, required=False, default="", allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["urgency"] = URGENCY_VALUES[attrs["urgency"]]
        return attrs


class WaitlistOfferSerializer(serializers.Serializer[WaitlistOffer]):
    id = serializers.IntegerField()
    clinician = serializers.IntegerField()
    clinic = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=WaitlistOffer.Status.choices)
    appointment = serializers.IntegerField(allow_null=True)
    message = serializers.IntegerField(allow_null=True, help_text="The SMS in the outbox.")

    def to_representation(self, offer: WaitlistOffer) -> dict[str, Any]:
        tz = offer.clinic.tz
        return {
            "id": offer.pk,
            "clinician": offer.clinician_id,
            "clinic": offer.clinic_id,
            "start": offer.start.astimezone(tz).isoformat(),
            "end": offer.end.astimezone(tz).isoformat(),
            "expires_at": offer.expires_at.astimezone(tz).isoformat(),
            "status": offer.status,
            "appointment": offer.appointment_id,
            "message": offer.message_id,
        }


class WaitlistEntrySerializer(serializers.Serializer[WaitlistEntry]):
    """Read shape, built directly (as AppointmentSerializer is); offers newest first."""

    id = serializers.IntegerField()
    patient = serializers.IntegerField()
    clinician = serializers.IntegerField(allow_null=True)
    discipline = serializers.IntegerField(allow_null=True)
    clinics = serializers.ListField(child=serializers.IntegerField())
    appointment_type = serializers.IntegerField()
    days = serializers.ListField(child=serializers.IntegerField())
    earliest = serializers.TimeField()
    latest = serializers.TimeField()
    urgency = serializers.ChoiceField(choices=list(URGENCY_VALUES))
    expires = serializers.DateField(allow_null=True)
    notes = serializers.CharField()
    status = serializers.ChoiceField(choices=WaitlistEntry.Status.choices)
    created_at = serializers.DateTimeField()
    offers = WaitlistOfferSerializer(many=True)

    def to_representation(self, entry: WaitlistEntry) -> dict[str, Any]:
        return {
            "id": entry.pk,
            "patient": entry.patient_id,
            "clinician": entry.clinician_id,
            "discipline": entry.discipline_id,
            "clinics": sorted(c.pk for c in entry.clinics.all()),
            "appointment_type": entry.appointment_type_id,
            "days": entry.days,
            "earliest": entry.earliest.isoformat("minutes"),
            "latest": entry.latest.isoformat("minutes"),
            "urgency": URGENCY_NAMES[entry.urgency],
            "expires": entry.expires.isoformat() if entry.expires else None,
            "notes": entry.notes,
            "status": entry.status,
            "created_at": entry.created_at.isoformat(),
            "offers": [WaitlistOfferSerializer(o).data for o in entry.offers.all()],
        }
