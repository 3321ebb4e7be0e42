"""Model fields that carry their own rule, so every path that writes a patient applies it:
ModelForms (the field's form field), the API (patients/api/serializers.py cleans through the
model field), services (`full_clean`) and bulk loads such as the FileMaker import (`pre_save`
normalises even when nothing validated first)."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.db import models

from patients.validators import (
    normalise_digits,
    normalise_dva_number,
    validate_dva_number,
    validate_medicare_number,
    validate_ndis_number,
)

# People type these numbers with spaces and dashes ("2123 45670 1"): the input may be
# longer than what is stored.
TYPED_MAX_LENGTH = 20


class NormalisedInputField(forms.CharField):
    def __init__(self, *, normalise: Callable[[str], str], **kwargs: Any) -> None:
        self.normalise = normalise
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str | None:
        text = super().to_python(value)
        return self.normalise(text) if text else text


class IdentifierField(models.CharField):
    """A card number stored in one canonical form and checked by one validator."""

    def normalise(self, value: str) -> str:
        raise NotImplementedError

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return self.normalise(value) if value else value

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = self.to_python(getattr(model_instance, self.attname))
        setattr(model_instance, self.attname, value)
        return value

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(
            **{
                "form_class": NormalisedInputField,
                "normalise": self.normalise,
                "max_length": TYPED_MAX_LENGTH,
                **kwargs,
            }
        )


class MedicareNumberField(IdentifierField):
    default_validators = [validate_medicare_number]

    def normalise(self, value: str) -> str:
        return normalise_digits(value)


class NdisNumberField(IdentifierField):
    default_validators = [validate_ndis_number]

    def normalise(self, value: str) -> str:
        return normalise_digits(value)


class DvaNumberField(IdentifierField):
    default_validators = [validate_dva_number]

    def normalise(self, value: str) -> str:
        return normalise_dva_number(value)
