from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, ClassVar, cast

from django.db import models
from django.utils import timezone
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


class PatientRow(dict[str, Any]):
    """One listed patient as `values(*PatientSerializer.Meta.fields)` reads it, with the
    `_meta` and `pk` the audit trail records a model instance by."""

    _meta = Patient._meta

    @property
    def pk(self) -> int:
        return int(self["id"])


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

    # A list page reads rows (PatientRow), not model instances: 25 Patient objects, each
    # setting ~30 attributes through descriptors, cost more than the rest of the read
    # (issue 16). A row is already keyed by the output's names, in the output's order
    # (`values()` with a foreign key's name gives its id); only the values the lean plan
    # converts are converted, the same way.
    _row_conversions: ClassVar[tuple[list[str], list[str], list[tuple[str, Any]]]]

    @classmethod
    def _row_plan(cls) -> tuple[list[str], list[str], list[tuple[str, Any]]]:
        if "_row_conversions" not in cls.__dict__:
            datetimes, dates, others = [], [], []
            for name, _attribute, convert in cls._plan():
                if convert is None:
                    continue
                if isinstance(Patient._meta.get_field(name), models.DateTimeField):
                    datetimes.append(name)
                elif isinstance(Patient._meta.get_field(name), models.DateField):
                    dates.append(name)
                else:
                    others.append((name, convert))
            cls._row_conversions = (datetimes, dates, others)
        return cls._row_conversions

    def to_representation(self, instance: Any) -> dict[str, Any]:
        if isinstance(instance, PatientRow):
            return rows_representation([instance])[0]
        return super().to_representation(instance)


def rows_representation(rows: Iterable[PatientRow]) -> list[dict[str, Any]]:
    """Listed rows as PatientSerializer(rows, many=True).data gives them, for a page
    without the serializer: DRF's list serializer, its child and a call per row cost more
    than converting the rows' few dates and phone numbers (issue 16).

    A row is already keyed by the output's names, in the output's order (`values()` with
    a foreign key's name gives its id); only the values the lean plan converts are
    converted, the same way."""
    zone = timezone.get_current_timezone()
    datetimes, dates, others = PatientSerializer._row_plan()
    shown = []
    for row in rows:
        result = dict(row)
        for name in datetimes:
            moment: datetime | None = result[name]
            if moment is not None:
                # timezone.localtime() is astimezone() after checks a loaded value passes;
                # a naive one (never loaded with USE_TZ) still meets them and is refused.
                local = (
                    moment.astimezone(zone) if moment.tzinfo else timezone.localtime(moment, zone)
                )
                result[name] = local.isoformat()
        for name in dates:
            day: date | None = result[name]
            result[name] = day.isoformat() if day else None
        for name, convert in others:
            result[name] = convert(result[name])
        shown.append(result)
    return shown


# The columns a patient list page reads.
PATIENT_LIST_COLUMNS = tuple(PatientSerializer.Meta.fields)
