"""Schedules: a cron expression (UTC) or an interval such as `every 15m` or `30s`.

There is no minimum interval. `next_after` gives the next due time; a run that fails is due
again at the next time, so a failure is retried by the schedule itself.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from croniter import croniter

from distillery.errors import ConfigError

_INTERVAL = re.compile(r"^(?:@?every\s+)?(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|day)s?$",
                       re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400,
          "day": 86400}


def check(schedule: str) -> str:
    """A schedule as given, once checked; ConfigError says what is accepted."""
    text = schedule.strip()
    if interval(text) is None and not croniter.is_valid(text):
        raise ConfigError(f"schedule {schedule!r} is neither a cron expression (e.g. "
                          "'*/15 * * * *', UTC) nor an interval (e.g. 'every 15m', '30s', '2h')")
    return text


def interval(schedule: str) -> timedelta | None:
    """The interval of an interval schedule, else None."""
    m = _INTERVAL.match(schedule.strip())
    if not m:
        return None
    seconds = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if seconds <= 0:
        raise ConfigError(f"schedule {schedule!r}: the interval must be positive")
    return timedelta(seconds=seconds)


def next_after(schedule: str, moment: datetime) -> datetime:
    """The first due time strictly after `moment` (UTC)."""
    step = interval(schedule)
    if step is not None:
        return moment + step
    return croniter(schedule, moment.astimezone(UTC)).get_next(datetime)


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)
