from django.urls import reverse
from rest_framework import serializers

from documents.models import Document


class DocumentSerializer(serializers.ModelSerializer[Document]):
    """A document's metadata; the bytes come from the download link."""

    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id",
            "patient",
            "category",
            "description",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "uploaded_by",
            "uploaded_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, document: Document) -> str:
        return reverse("document-download", args=[document.pk])


class DocumentUploadSerializer(serializers.Serializer[Document]):
    file = serializers.FileField(allow_empty_file=True, use_url=False)
    category = serializers.ChoiceField(choices=Document.Category.choices)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
