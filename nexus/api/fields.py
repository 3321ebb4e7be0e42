from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from nexus.dates import in_supported_range


class AwareDateTimeField(serializers.DateTimeField):
    """A datetime that must carry its UTC offset.

    Clinics span time zones, so "09:00" alone is ambiguous; guessing a zone would book the
    wrong hour. Output keeps whatever zone the value is in. Impossible values (10:60,
    30 February) and years no clinic books in are a 400, never arithmetic that overflows.
    """

    default_error_messages = {
        "naive": "Include a UTC offset, for example 2026-11-24T09:00:00+11:00.",
        "impossible": "This is not a real date and time.",
        "out_of_range": "Use a date between the years 1900 and 2999.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                self.fail("impossible")
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        result = super().to_internal_value(value)
        if not in_supported_range(result):
            self.fail("out_of_range")
        return result
