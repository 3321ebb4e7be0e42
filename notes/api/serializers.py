from typing import Any

from rest_framework import serializers

from appointments.models import Appointment
from notes.models import AI_DRAFT_FORMATS, AiJob, ClinicalNote
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


class AiDraftRequestSerializer(serializers.Serializer[AiJob]):
    shorthand = serializers.CharField(allow_blank=True, max_length=4000, trim_whitespace=True)
    format = serializers.ChoiceField(choices=AI_DRAFT_FORMATS)
    source_note_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=20,
        help_text="Signed notes of the same patient to draft from (an AT report's sources).",
    )
    source_document_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=20,
        help_text="Documents of the same patient whose descriptions (not files) go out too.",
    )


class AiJobSerializer(serializers.ModelSerializer[AiJob]):
    error = serializers.SerializerMethodField(
        help_text="Why the draft failed, for people; null unless failed."
    )
    error_code = serializers.SerializerMethodField()
    usage = serializers.SerializerMethodField()
    cost_usd = serializers.SerializerMethodField()

    class Meta:
        model = AiJob
        fields = [
            "id",
            "status",
            "error",
            "error_code",
            "note",
            "format",
            "model",
            "prompt_version",
            "source_note_ids",
            "source_document_ids",
            "request_id",
            "usage",
            "cost_usd",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_error(self, job: AiJob) -> str | None:
        return job.error if job.status == AiJob.Status.FAILED else None

    def get_error_code(self, job: AiJob) -> str | None:
        return job.error_code if job.status == AiJob.Status.FAILED else None

    def get_usage(self, job: AiJob) -> dict[str, int]:
        return {"prompt_tokens": job.prompt_tokens, "completion_tokens": job.completion_tokens}

    def get_cost_usd(self, job: AiJob) -> str:
        return f"{job.cost_microdollars / 1_000_000:.6f}"


class LetterRequestSerializer(serializers.Serializer[None]):
    to = serializers.ChoiceField(choices=["patient", "referrer", "coordinator"])
