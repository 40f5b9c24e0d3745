"""Cutoffs and horizons: text from the command line to aware UTC datetimes and durations.

Every time the features room handles is an aware UTC datetime; inside queries it becomes
microseconds since the epoch, so windows and recencies are integer arithmetic that every engine
computes identically.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from distillery.features.errors import FeatureError

_DURATION = re.compile(r"^\s*(\d+)\s*(w|d|h|m|min|s)\s*$", re.IGNORECASE)
_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1),
          "m": timedelta(minutes=1), "min": timedelta(minutes=1), "s": timedelta(seconds=1)}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_cutoff(value: str | date | datetime, option: str = "cutoff") -> datetime:
    """An aware UTC datetime from ISO text, a date (00:00 UTC) or a datetime (naive = UTC).

    Raises:
        FeatureError: the text is not an ISO date or date-time.
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FeatureError(f"{option} {value!r} is not an ISO date or date-time "
                           "(e.g. 2025-02-01 or 2025-02-01T12:00:00Z)") from None
    return parse_cutoff(parsed, option)


def parse_duration(value: str | timedelta, option: str = "horizon") -> timedelta:
    """A positive duration from text such as `14d`, `2w`, `12h`, `90m` or `30s`.

    Raises:
        FeatureError: the text is not a number followed by w, d, h, m or s, or is zero.
    """
    if isinstance(value, timedelta):
        delta = value
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise FeatureError(f"{option} {value!r} is not a duration: use a whole number and "
                               "a unit, e.g. 14d, 2w, 12h, 90m")
        delta = int(match.group(1)) * _UNITS[match.group(2).lower()]
    if delta <= timedelta(0):
        raise FeatureError(f"{option} must be positive, got {value!r}")
    return delta


def micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime, exactly (no float rounding)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def format_duration(delta: timedelta) -> str:
    """The shortest `parse_duration` text for a duration (`14d`, `36h`, ...)."""
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
