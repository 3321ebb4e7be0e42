from datetime import date
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers

from nexus.api.serializers import LeanReadSerializer
from patients.models import Coordinator, Patient, Referrer
from patients.validators import normalise_digits, validate_medicare_number, validate_ndis_number


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


class PatientSerializer(LeanReadSerializer):
    phone = _phone(help_text="Any Australian format; stored in E.164.")
    emergency_contact_phone = _phone()
    medicare_number = serializers.CharField(
        required=False, allow_blank=True, max_length=20, help_text="10 digits, spaces allowed."
    )
    ndis_number = serializers.CharField(required=False, allow_blank=True, max_length=20)

    class Meta:
        model = Patient
        fields = [
            "id",
            "given_name",
            "family_name",
            "preferred_name",
            "date_of_birth",
            "sex",
            "phone",
            "email",
            "address",
            "suburb",
            "state",
            "postcode",
            "medicare_number",
            "medicare_irn",
            "ndis_number",
            "dva_number",
            "funding_type",
            "emergency_contact_name",
            "emergency_contact_phone",
            "home_clinic",
            "referrer",
            "coordinator",
            "sms_consent",
            "email_consent",
            "alerts",
            "archived",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def _digits(self, value: str, validator: Any) -> str:
        value = normalise_digits(value)
        if value:
            try:
                validator(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages) from exc
        return value

    def validate_medicare_number(self, value: str) -> str:
        return self._digits(value, validate_medicare_number)

    def validate_ndis_number(self, value: str) -> str:
        return self._digits(value, validate_ndis_number)

    def validate_date_of_birth(self, value: date | None) -> date | None:
        if value and value > timezone.localdate():
            raise serializers.ValidationError("Date of birth cannot be in the future.")
        if value and value.year < 1900:
            raise serializers.ValidationError("Check the year of birth.")
        return value

    def validate_postcode(self, value: str) -> str:
        if value and not (len(value) == 4 and value.isdigit()):
            raise serializers.ValidationError("An Australian postcode has 4 digits.")
        return value
