from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers


class AwareDateTimeField(serializers.DateTimeField):
    """A datetime that must carry its UTC offset.

    Clinics span time zones, so "09:00" alone is ambiguous; guessing a zone would book the
    wrong hour. Output keeps whatever zone the value is in.
    """

    default_error_messages = {
        "naive": "Include a UTC offset, for example 2026-11-24T09:00:00+11:00.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str):
            parsed = parse_datetime(value.strip())
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        return super().to_internal_value(value)
