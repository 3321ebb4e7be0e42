"""Repeat rules: "every N weeks, N times or until a date", as RFC 5545 RRULE text.

Only the subset repeat bookings need is read and written: FREQ=WEEKLY with INTERVAL and
exactly one of COUNT or UNTIL. UNTIL is written as RFC 5545 asks when DTSTART carries a
zone: the UTC instant of the last moment of the chosen clinic-local day.

Occurrences are computed on the clinic's wall clock, not by adding weeks in UTC: a
Monday 10:00 course stays at 10:00 on the Monday after the clocks change, although that
Monday is 167 or 169 real hours after the one before.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from nexus.errors import ValidationFailed

MAX_OCCURRENCES = 52  # a year of weekly visits; a longer course is a new series
MAX_EVERY_WEEKS = 52
# The last occurrence at most two years after the first: the preview reads the clinician's
# diary over the whole span, so the span, not only the count, has to be bounded.
MAX_SPAN = timedelta(weeks=104)


@dataclass(frozen=True)
class SeriesRule:
    every_weeks: int
    count: int | None = None
    until: date | None = None  # clinic-local, inclusive

    def __post_init__(self) -> None:
        if not 1 <= self.every_weeks <= MAX_EVERY_WEEKS:
            raise ValidationFailed(f"Repeat every 1 to {MAX_EVERY_WEEKS} weeks.", field="rule")
        if (self.count is None) == (self.until is None):
            raise ValidationFailed("Give either a number of times or an end date.", field="rule")
        if self.count is not None and not 1 <= self.count <= MAX_OCCURRENCES:
            raise ValidationFailed(
                f"A series has 1 to {MAX_OCCURRENCES} appointments.", field="rule"
            )

    def to_rrule(self, tz: ZoneInfo) -> str:
        parts = ["FREQ=WEEKLY", f"INTERVAL={self.every_weeks}"]
        if self.until is not None:
            last = datetime.combine(self.until, time(23, 59, 59), tzinfo=tz).astimezone(UTC)
            parts.append(f"UNTIL={last:%Y%m%dT%H%M%SZ}")
        else:
            parts.append(f"COUNT={self.count}")
        return ";".join(parts)

    @classmethod
    def from_rrule(cls, text: str, tz: ZoneInfo) -> "SeriesRule":
        fields = dict(part.partition("=")[::2] for part in text.split(";"))
        if fields.get("FREQ") != "WEEKLY":
            raise ValueError(f"Only weekly rules are supported, not {text!r}.")
        until = None
        if "UNTIL" in fields:
            instant = datetime.strptime(fields["UNTIL"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            until = instant.astimezone(tz).date()
        count = int(fields["COUNT"]) if "COUNT" in fields else None
        return cls(every_weeks=int(fields.get("INTERVAL", "1")), count=count, until=until)

    def describe(self) -> str:
        """For people: "Every week, 6 times", "Every 2 weeks until 12 Apr 2027"."""
        every = "Every week" if self.every_weeks == 1 else f"Every {self.every_weeks} weeks"
        if self.until is not None:
            return f"{every} until {self.until:%-d %b %Y}"
        return f"{every}, {self.count} times"

    def as_dict(self) -> dict[str, int | str]:
        """The API's shape: {"every_weeks", "count"} or {"every_weeks", "until"}."""
        if self.until is not None:
            return {"every_weeks": self.every_weeks, "until": self.until.isoformat()}
        return {"every_weeks": self.every_weeks, "count": self.count or 0}


def occurrence_starts(*, start: datetime, tz: ZoneInfo, rule: SeriesRule) -> list[datetime]:
    """The UTC start of every occurrence, the first at `start`.

    Each is the first one's wall-clock time in `tz` on the same weekday N weeks on. A wall
    time the clocks skip that day (02:30 when they go forward) is read as the clock shows
    it after the change, as zoneinfo does for any time that does not exist.
    """
    local = start.astimezone(tz)
    wall = local.time().replace(fold=0)
    first_day = local.date()
    if rule.until is not None and rule.until < first_day:
        raise ValidationFailed("The end date is before the first appointment.", field="rule")
    starts: list[datetime] = []
    for i in range(MAX_OCCURRENCES + 1):
        day = first_day + timedelta(weeks=rule.every_weeks * i)
        if (rule.count is not None and i >= rule.count) or (
            rule.until is not None and day > rule.until
        ):
            return starts
        if day - first_day > MAX_SPAN:
            raise ValidationFailed(
                "A series ends at most two years after its first appointment.", field="rule"
            )
        starts.append(datetime.combine(day, wall, tzinfo=tz).astimezone(UTC))
    raise ValidationFailed(
        f"A series has at most {MAX_OCCURRENCES} appointments; choose an earlier end date.",
        field="rule",
    )
