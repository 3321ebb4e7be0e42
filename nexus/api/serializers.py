from collections.abc import Callable
from datetime import date, datetime
from typing import Any, ClassVar

import phonenumbers
from django.db import models
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField
from phonenumber_field.phonenumber import PhoneNumber, to_python
from rest_framework import serializers

from nexus.fields import is_au_e164


def _as_datetime(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def _as_date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _as_text(value: Any) -> str:
    return str(value) if value else ""


def _as_phone(value: PhoneNumber | str | None) -> str:
    """A number in E.164: a PhoneNumber loaded by its field, or the text stored, read
    without the field's loader (patients.selectors.patient_rows_page), which prints as
    loaded and formatted (nexus.fields)."""
    if isinstance(value, str):
        if not value or is_au_e164(value):
            return value
        return _as_phone(to_python(value))  # as the field loads any other number
    # str(PhoneNumber) re-validates the number against its region's metadata (~80 µs);
    # stored numbers were validated on the way in.
    # (`if value` would too: PhoneNumber's __len__ is len(str(self)).)
    if value is None or value == "":
        return ""
    return phonenumbers.format_number(value, phonenumbers.PhoneNumberFormat.E164)


class LeanReadSerializer(serializers.ModelSerializer[Any]):
    """A ModelSerializer whose reads skip DRF's per-field machinery.

    ModelSerializer costs ~60-125 µs per object on this hardware against a few µs for a dict
    (docs/performance.md), which dominates a 25-row page. Writes and validation stay
    ModelSerializer; reads follow a plan built once per class from `Meta.fields`, with the
    same output DRF would give for these simple column types.
    """

    _read_plan: ClassVar[list[tuple[str, str, Callable[[Any], Any] | None]]]

    @classmethod
    def _plan(cls) -> list[tuple[str, str, Callable[[Any], Any] | None]]:
        if "_read_plan" not in cls.__dict__:
            plan: list[tuple[str, str, Callable[[Any], Any] | None]] = []
            model: Any = cls.Meta.model
            for name in cls.Meta.fields:
                field = model._meta.get_field(name)
                convert: Callable[[Any], Any] | None = None
                if isinstance(field, models.DateTimeField):
                    convert = _as_datetime
                elif isinstance(field, models.DateField):
                    convert = _as_date
                elif isinstance(field, PhoneNumberField):
                    convert = _as_phone
                elif isinstance(field, models.DecimalField):
                    convert = _as_text
                attribute = field.attname if field.is_relation else name
                plan.append((name, attribute, convert))
            cls._read_plan = plan
        return cls._read_plan

    def to_representation(self, instance: Any) -> dict[str, Any]:
        # The request's zone, looked up once per serializer (a page of 25 is one serializer):
        # timezone.localtime() without a zone reads it from a context-local on every value.
        zone = self.__dict__.get("_zone")
        if zone is None:
            zone = self.__dict__["_zone"] = timezone.get_current_timezone()
        result = {}
        for name, attribute, convert in self._plan():
            value = getattr(instance, attribute)
            if convert is _as_datetime:
                result[name] = timezone.localtime(value, zone).isoformat() if value else None
            else:
                result[name] = convert(value) if convert else value
        return result
