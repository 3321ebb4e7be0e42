from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField

from nexus.dates import in_supported_range


class IdFilter(filters.NumberFilter):
    """Filter on a foreign key's id without loading the related row.

    django-filter's default ModelChoiceFilter validates each id with a query and deep-copies
    its queryset for every request; for list filters an unknown id simply matches nothing.
    """

    def __init__(self, field_name: str, **kwargs: object) -> None:
        super().__init__(field_name=f"{field_name}_id", min_value=1, **kwargs)


class _SupportedDateTimeField(IsoDateTimeField):
    def to_python(self, value: Any) -> datetime | None:
        result = super().to_python(value)
        if result is not None and not in_supported_range(result):
            raise ValidationError("Use a date between the years 1900 and 2999.", code="invalid")
        return result


class AwareDateTimeFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 date-time filter that refuses years no clinic books in with a 400: the
    database conversion of 9999-12-31T23:59:59-23:59 to UTC overflowed into a 500."""

    field_class = _SupportedDateTimeField
