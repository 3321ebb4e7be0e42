from rest_framework import serializers

from clinicians.models import Clinic, Clinician, Discipline


class ClinicSerializer(serializers.ModelSerializer[Clinic]):
    class Meta:
        model = Clinic
        fields = ["id", "name", "address", "phone", "email", "abn", "timezone", "is_active"]


class DisciplineSerializer(serializers.ModelSerializer[Discipline]):
    class Meta:
        model = Discipline
        fields = ["id", "name"]


class ClinicianSerializer(serializers.ModelSerializer[Clinician]):
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = Clinician
        fields = [
            "id",
            "title",
            "given_name",
            "family_name",
            "display_name",
            "disciplines",
            "clinics",
            "bio",
            "provider_number",
            "accepting_new_patients",
            "listed_publicly",
            "is_active",
            "user",
        ]


class AvailabilityQuerySerializer(serializers.Serializer[None]):
    start = serializers.DateField(help_text="First clinic-local day, YYYY-MM-DD.")
    end = serializers.DateField(help_text="Last clinic-local day (inclusive), YYYY-MM-DD.")
    appointment_type = serializers.IntegerField(min_value=1)
    clinic = serializers.IntegerField(min_value=1, required=False)


class SlotSerializer(serializers.Serializer[None]):
    start = serializers.DateTimeField(help_text="Slot start in the clinic's time zone.")
    end = serializers.DateTimeField()
    clinic = serializers.IntegerField()
