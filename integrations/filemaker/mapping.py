"""The mapping file (default_mapping.toml) and the converters it names.

A converter turns one FileMaker value (as the Data API or OData sends it: text, or a JSON
number; "" for empty) into a Python value, or raises `Unconvertible` with a short reason
code that the reconciliation report counts. Reasons never carry the value itself.
"""

import re
import tomllib
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from pathlib import Path
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from patients.validators import normalise_digits

DEFAULT_MAPPING = Path(__file__).with_name("default_mapping.toml")

# The order layouts are imported in: each kind refers only to kinds before it.
KIND_ORDER = (
    "clinics",
    "practitioners",
    "referrers",
    "coordinators",
    "clients",
    "appointments",
    "notes",
    "documents",
)


class Unconvertible(Exception):
    """A value that cannot become what the mapping asks for; `reason` is a report code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MappingError(Exception):
    """The mapping file itself is wrong (unknown converter, missing key...)."""


@dataclass(frozen=True)
class FieldMap:
    source: str
    to: str
    convert: str
    required: bool = False
    choices: dict[str, str] = field(default_factory=dict)
    layout: str = ""


@dataclass(frozen=True)
class LayoutMap:
    layout: str
    kind: str
    key: str
    fields: tuple[FieldMap, ...]
    modified: str = ""

    def field_for(self, target: str) -> FieldMap | None:
        return next((f for f in self.fields if f.to == target), None)


@dataclass(frozen=True)
class Mapping:
    layouts: tuple[LayoutMap, ...]
    default_timezone: str

    def by_kind(self, kind: str) -> LayoutMap | None:
        return next((lm for lm in self.layouts if lm.kind == kind), None)

    def layout_of_kind(self, kind: str) -> str:
        lm = self.by_kind(kind)
        return lm.layout if lm else ""


def load_mapping(path: Path | str | None = None) -> Mapping:
    with open(path or DEFAULT_MAPPING, "rb") as handle:
        raw = tomllib.load(handle)
    layouts = []
    for entry in raw.get("layouts", []):
        try:
            kind, layout, key = entry["kind"], entry["layout"], entry["key"]
        except KeyError as missing:
            raise MappingError(f"a layout in the mapping has no {missing}") from None
        if kind not in KIND_ORDER:
            raise MappingError(f"layout {layout}: unknown kind {kind!r}")
        fields = []
        for source, spec in entry.get("fields", {}).items():
            if spec.get("convert") not in CONVERTERS:
                raise MappingError(f"{layout}.{source}: unknown converter {spec.get('convert')!r}")
            choices = {_choice_key(k): v for k, v in spec.get("choices", {}).items()}
            fields.append(
                FieldMap(
                    source=source,
                    to=spec["to"],
                    convert=spec["convert"],
                    required=bool(spec.get("required", False)),
                    choices=choices,
                    layout=spec.get("layout", ""),
                )
            )
        layouts.append(
            LayoutMap(layout, kind, key, tuple(fields), modified=entry.get("modified", ""))
        )
    layouts.sort(key=lambda lm: KIND_ORDER.index(lm.kind))
    if len({lm.kind for lm in layouts}) != len(layouts):
        raise MappingError("each kind may be mapped from one layout only")
    return Mapping(tuple(layouts), raw.get("default_timezone", "Australia/Sydney"))


def _choice_key(value: str) -> str:
    return " ".join(value.split()).casefold()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


_TWO_DIGIT_YEAR = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2})$")


def convert_date(value: Any) -> date | None:
    text = _text(value)
    if not text or text in {"00/00/0000", "0/0/0000", "00/00/00"}:
        return None
    match = _TWO_DIGIT_YEAR.match(text)
    try:
        if match:
            month, day, yy = (int(g) for g in match.groups())
            # A pivot at this year: "75" is 1975, "12" is 2012 (a DOB can't be ahead of now).
            this_year = timezone.localdate().year
            year = 2000 + yy if 2000 + yy <= this_year else 1900 + yy
            return date(year, month, day)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
        return datetime.strptime(text, "%m/%d/%Y").date()  # noqa: DTZ007 - a date, no zone
    except ValueError:
        raise Unconvertible("impossible_date") from None


def date_warning(value: Any) -> str:
    """What a date that did convert still deserves a word about in the report."""
    text = _text(value)
    if text in {"00/00/0000", "0/0/0000", "00/00/00"}:
        return "zero_date"
    if _TWO_DIGIT_YEAR.match(text):
        return "two_digit_year"
    return ""


def convert_time(value: Any) -> time | None:
    text = _text(value)
    if not text:
        return None
    for fmt in ("%H:%M:%S", "%H:%M"):
        try:
            return datetime.strptime(text, fmt).time()  # noqa: DTZ007 - a wall-clock time
        except ValueError:
            continue
    raise Unconvertible("impossible_time")


def convert_timestamp(value: Any) -> datetime | None:
    """A naive clinic-local timestamp; `localize` gives it its zone."""
    text = _text(value)
    if not text:
        return None
    day, _, clock = text.partition(" ")
    parsed_day = convert_date(day)
    if parsed_day is None:
        return None
    parsed_time = convert_time(clock) if clock else time(0, 0)
    return datetime.combine(parsed_day, parsed_time or time(0, 0))


def localize(naive: datetime, tz: tzinfo) -> tuple[datetime, str]:
    """`naive` wall-clock time in `tz` as an aware datetime, and a warning code when the
    time did not exist (skipped by a daylight-saving change: moved forward an hour) or
    happened twice (the first, daylight-saving, occurrence is taken)."""
    aware = naive.replace(tzinfo=tz, fold=0)
    other = naive.replace(tzinfo=tz, fold=1)
    if aware.utcoffset() == other.utcoffset():
        return aware, ""
    round_trip = aware.astimezone(zoneinfo.ZoneInfo("UTC")).astimezone(tz).replace(tzinfo=None)
    if round_trip != naive:
        return other, "nonexistent_local_time"
    return aware, "ambiguous_local_time"


def convert_phone(value: Any) -> str:
    text = _text(value)
    if not text:
        return ""
    digits = re.sub(r"[\s()\-.]", "", text)
    if re.fullmatch(r"61\d{9}", digits):
        digits = "+" + digits
    elif re.fullmatch(r"[2-9]\d{8}", digits):
        digits = "0" + digits
    try:
        number = phonenumbers.parse(digits, "AU")
    except phonenumbers.NumberParseException:
        raise Unconvertible("invalid_phone") from None
    if not phonenumbers.is_valid_number(number):
        raise Unconvertible("invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def convert_digits(value: Any) -> str:
    return normalise_digits(_text(value))


def convert_boolean(value: Any) -> bool:
    text = _text(value).casefold()
    if text in {"1", "yes", "y", "true", "t"}:
        return True
    if text in {"", "0", "no", "n", "false", "f"}:
        return False
    raise Unconvertible("invalid_boolean")


def convert_integer(value: Any) -> int | None:
    text = _text(value)
    if not text:
        return None
    try:
        return int(float(text))
    except ValueError:
        raise Unconvertible("invalid_number") from None


def convert_lines(value: Any) -> list[str]:
    return [part.strip() for part in re.split(r"[\r\n]+", _text(value)) if part.strip()]


def convert_email(value: Any) -> str:
    text = _text(value)
    if not text:
        return ""
    try:
        validate_email(text)
    except ValidationError:
        raise Unconvertible("invalid_email") from None
    return text


def convert_timezone(value: Any) -> str:
    text = _text(value)
    if text and text not in zoneinfo.available_timezones():
        raise Unconvertible("invalid_timezone")
    return text


def _keep(value: Any) -> Any:
    return value


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "text": _text,
    "date": convert_date,
    "time": convert_time,
    "timestamp": convert_timestamp,
    "phone": convert_phone,
    "medicare": convert_digits,
    "digits": convert_digits,
    "boolean": convert_boolean,
    "choice": _text,
    "reference": _text,
    "integer": convert_integer,
    "lines": convert_lines,
    "email": convert_email,
    "timezone": convert_timezone,
    "container": _keep,
}


def convert_field(spec: FieldMap, value: Any) -> Any:
    converted = CONVERTERS[spec.convert](value)
    if spec.convert == "choice":
        try:
            return spec.choices[_choice_key(converted)]
        except KeyError:
            raise Unconvertible(f"unknown_{spec.to}") from None
    return converted
