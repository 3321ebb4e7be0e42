from typing import Any

from rest_framework import serializers

from appointments.models import Appointment
from notes.models import ClinicalNote
from notes.selectors import user_can_read_note_body
from patients.models import Patient


class ClinicalNoteSerializer(serializers.ModelSerializer[ClinicalNote]):
    author_name = serializers.CharField(source="author.get_full_name", read_only=True)
    body = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Absent for roles that may not read clinical text (reception).",
    )
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    appointment = serializers.PrimaryKeyRelatedField(
        queryset=Appointment.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = ClinicalNote
        fields = [
            "id",
            "patient",
            "appointment",
            "author",
            "author_name",
            "kind",
            "title",
            "body",
            "status",
            "addendum_to",
            "ai_provenance",
            "signed_at",
            "signed_by",
            "content_sha256",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "author",
            "status",
            "addendum_to",
            "ai_provenance",
            "signed_at",
            "signed_by",
            "content_sha256",
            "created_at",
            "updated_at",
        ]

    def to_representation(self, instance: ClinicalNote) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not user_can_read_note_body(request.user):
            data.pop("body", None)
        return data


class ClinicalNoteUpdateSerializer(serializers.Serializer[ClinicalNote]):
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    body = serializers.CharField(required=False, allow_blank=True)


class AddendumSerializer(serializers.Serializer[ClinicalNote]):
    body = serializers.CharField()
