"""Reading dates and times that come from outside (query strings, forms, JSON).

`datetime.fromisoformat` happily reads 9999-12-31T23:59:59-23:59, and the first sum or
time-zone conversion on it overflows; 2027-02-30 and 10:60 raise ValueError. Input goes
through here so every caller answers "not a real time" the same way instead of a 500.
"""

from datetime import UTC, date, datetime

EARLIEST_YEAR = 1900
LATEST_YEAR = 2999


def in_supported_range(value: date) -> bool:
    """True for dates (and aware datetimes, in UTC) within the years Nexus works with."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            return False
    return EARLIEST_YEAR <= value.year <= LATEST_YEAR


def parse_aware_datetime(text: str) -> datetime | None:
    """An ISO 8601 date-time with its UTC offset, or None if it is not one (or is naive,
    impossible, or outside the supported years)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is None or not in_supported_range(value):
        return None
    return value


def parse_date(text: str) -> date | None:
    """An ISO 8601 calendar date within the supported years, or None."""
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if in_supported_range(value) else None
