"""What training reads from a training set's feature definition (tags["feature_definition"]).

The training-set builder owns the definition's format; training only needs a few facts from it
and must work without it (bring-your-own data). The accessors below accept the spellings a
definition is likely to use and return None when a fact is absent, so explicit options and
inference fill the gaps.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

_DURATION = re.compile(r"^\s*P?(?:(\d+(?:\.\d+)?)\s*D)?\s*(?:T?(\d+(?:\.\d+)?)\s*H)?\s*$",
                       re.IGNORECASE)
_WORDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(d|day|days|h|hour|hours|w|week|weeks)\s*$",
                    re.IGNORECASE)


def _first(definition: dict[str, Any] | None, *keys: str) -> Any:
    if not definition:
        return None
    for key in keys:
        if definition.get(key) is not None:
            return definition[key]
    return None


def label(definition: dict[str, Any] | None) -> str | None:
    """The label column the definition names."""
    value = _first(definition, "label_column", "label")
    if isinstance(value, dict):
        value = value.get("name") or value.get("column")
    return value if isinstance(value, str) else None


def person(definition: dict[str, Any] | None) -> str | None:
    """The person (entity) column: rows of one person never straddle train and test."""
    value = _first(definition, "identity_column", "entity_column", "person_column", "id_column")
    return value if isinstance(value, str) else None


def cutoff(definition: dict[str, Any] | None) -> str | None:
    """The column holding each row's cutoff time (point-in-time training sets)."""
    value = _first(definition, "cutoff_column", "time_column")
    return value if isinstance(value, str) else None


def features(definition: dict[str, Any] | None) -> list[str] | None:
    """The feature columns the definition declares, in its order."""
    value = _first(definition, "feature_columns", "features")
    if not isinstance(value, list):
        return None
    names = [v if isinstance(v, str) else (v.get("name") if isinstance(v, dict) else None)
             for v in value]
    return [n for n in names if isinstance(n, str)] or None


def horizon(definition: dict[str, Any] | None) -> timedelta | None:
    """The label horizon H (a conversion in (T, T+H] is a positive)."""
    seconds = _first(definition, "horizon_seconds")
    if isinstance(seconds, int | float):
        return timedelta(seconds=seconds)
    # A bare number is a number of days, which is what "horizon_days" holds.
    return parse_duration(_first(definition, "horizon", "label_horizon", "horizon_days"))


def negative_rate(definition: dict[str, Any] | None) -> float | None:
    """The share of negatives the builder kept, when it sampled them (1.0 or None: all kept)."""
    value = _first(definition, "negative_sampling_rate", "negative_rate")
    sampling = _first(definition, "sampling")
    if value is None and isinstance(sampling, dict):
        value = sampling.get("negative_rate") or sampling.get("negatives")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def parse_duration(value: Any) -> timedelta | None:
    """A duration from a timedelta, a number of days, "14d", "336h", "2 weeks" or "P14D"."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(days=float(value))
    if isinstance(value, dict):
        days = float(value.get("days", 0)) + 7 * float(value.get("weeks", 0))
        return timedelta(days=days, hours=float(value.get("hours", 0))) or None
    text = str(value)
    words = _WORDS.match(text)
    if words:
        number, unit = float(words.group(1)), words.group(2).lower()[0]
        return {"d": timedelta(days=number), "h": timedelta(hours=number),
                "w": timedelta(weeks=number)}[unit]
    iso = _DURATION.match(text)
    if iso and (iso.group(1) or iso.group(2)):
        return timedelta(days=float(iso.group(1) or 0), hours=float(iso.group(2) or 0))
    return None


def cutoff_time(definition: dict[str, Any] | None) -> datetime | None:
    """The single cutoff time T of a training set built at one cutoff, when the definition
    states it rather than carrying it in a column."""
    for key in ("cutoff_time", "cutoff", "as_of"):
        value = _first(definition, key)
        moment = _as_datetime(value)
        if moment is not None:
            return moment
    return None


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
