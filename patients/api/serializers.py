from typing import Any, cast

from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers

from nexus.api.serializers import LeanReadSerializer
from patients.fields import TYPED_MAX_LENGTH, IdentifierField
from patients.models import PATIENT_EDITABLE_FIELDS, Coordinator, Patient, Referrer


def _phone(**kwargs: Any) -> PhoneNumberField:
    return PhoneNumberField(required=False, allow_blank=True, **kwargs)


class ReferrerSerializer(serializers.ModelSerializer[Referrer]):
    phone = _phone()
    fax = _phone()

    class Meta:
        model = Referrer
        fields = [
            "id",
            "name",
            "practice_name",
            "provider_number",
            "phone",
            "fax",
            "email",
            "address",
        ]


class CoordinatorSerializer(serializers.ModelSerializer[Coordinator]):
    phone = _phone()

    class Meta:
        model = Coordinator
        fields = ["id", "name", "organisation", "phone", "email"]


class IdentifierSerializerField(serializers.CharField):
    """A card number cleaned by its model field (patients/fields.py): the same normalising
    and the same validator as the staff form and the import. A Django ValidationError
    raised here becomes this field's 400 error."""

    def __init__(self, *, model_field: str, **kwargs: Any) -> None:
        self.model_field = cast(IdentifierField, Patient._meta.get_field(model_field))
        super().__init__(required=False, allow_blank=True, max_length=TYPED_MAX_LENGTH, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        return self.model_field.clean(value, None) if value else value


class PatientSerializer(LeanReadSerializer):
    phone = _phone(help_text="Any Australian format; stored in E.164.")
    emergency_contact_phone = _phone()
    medicare_number = IdentifierSerializerField(
        model_field="medicare_number", help_text="10 digits, spaces allowed."
    )
    ndis_number = IdentifierSerializerField(
        model_field="ndis_number", help_text="9 digits starting 43, spaces allowed."
    )
    dva_number = IdentifierSerializerField(
        model_field="dva_number",
        help_text="DVA file number: state letter, war code, digits, optional segment letter "
        "(NX123456, QSS12345A).",
    )

    class Meta:
        model = Patient
        fields = ["id", *PATIENT_EDITABLE_FIELDS, "archived", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
