"""Cutoffs, horizons and conversion conditions: what is accepted, and the errors for the rest."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from distillery.features import FeatureError
from distillery.features.conversion import parse_condition, qualify
from distillery.features.fields import slugs
from distillery.features.timeparse import micros, parse_cutoff, parse_duration
from distillery.lake import xdm
from distillery.lake.catalog import DatasetRecord

EVENTS = DatasetRecord(id="x", name="events", table_name="events",
                       schema=xdm.experience_event_schema())


@pytest.mark.parametrize(("text", "expected"), [
    ("2025-02-01", datetime(2025, 2, 1, tzinfo=UTC)),
    ("2025-02-01T12:30:00Z", datetime(2025, 2, 1, 12, 30, tzinfo=UTC)),
    ("2025-02-01T12:30:00+02:00", datetime(2025, 2, 1, 10, 30, tzinfo=UTC)),
    (date(2025, 2, 1), datetime(2025, 2, 1, tzinfo=UTC)),
    (datetime(2025, 2, 1, 5), datetime(2025, 2, 1, 5, tzinfo=UTC)),
    (datetime(2025, 2, 1, 5, tzinfo=timezone(timedelta(hours=-1))),
     datetime(2025, 2, 1, 6, tzinfo=UTC)),
])
def test_cutoffs(text: object, expected: datetime) -> None:
    assert parse_cutoff(text) == expected  # type: ignore[arg-type]


def test_durations_and_micros() -> None:
    assert parse_duration("14d") == timedelta(days=14)
    assert parse_duration("2w") == timedelta(weeks=2)
    assert parse_duration("90m") == parse_duration("90min") == timedelta(minutes=90)
    assert micros(datetime(1970, 1, 1, 0, 0, 1, 7, tzinfo=UTC)) == 1_000_007
    with pytest.raises(FeatureError, match="horizon '3 weeks' is not a duration"):
        parse_duration("3 weeks")
    with pytest.raises(FeatureError, match="--cutoff 'soon' is not an ISO date"):
        parse_cutoff("soon", "--cutoff")


@pytest.mark.parametrize("text", [
    "eventType = 'web.formFilledOut'",
    "commerce.order.priceTotal > 100 AND eventType LIKE 'commerce.%'",
    "lower(eventType) IN ('a', 'b')",
    "identityMap['ECID'][0].id IS NOT NULL",
    "NOT (web.webPageDetails.isErrorPage)",
])
def test_conditions_over_event_fields_are_accepted(text: str) -> None:
    sql = qualify(parse_condition(text), EVENTS, "e").sql("duckdb")
    assert '"e".' in sql


@pytest.mark.parametrize(("text", "message"), [
    ("", "is empty"),
    ("SELECT 1", "contains a query"),
    ("eventType = 'a'; DROP TABLE events", "must be one expression, got 2 statements"),
    ("eventType IN (SELECT eventType FROM events)", "contains a query"),
    ("EXISTS (SELECT 1)", "contains a"),
    ("count(*) > 1", "contains an aggregate function"),
    ("row_number() OVER (ORDER BY timestamp) = 1", "contains a"),
    ("read_text('/etc/passwd') = 'x'", "contains an unknown function"),
    ("eventType = :value", "contains a parameter"),
    ("eventType", "is not a true/false condition"),
    ("eventType = ", "is not valid SQL"),
])
def test_conditions_that_are_not_expressions_over_event_fields_are_refused(
        text: str, message: str) -> None:
    with pytest.raises(FeatureError, match=message):
        parse_condition(text)


@pytest.mark.parametrize(("text", "field"), [
    ("nope = 1", "nope"), ("commerce.order.nope > 1", "commerce.order.nope"),
    ("upper(web.nope.name) = 'X'", "web.nope.name"),
])
def test_unknown_fields_are_named(text: str, field: str) -> None:
    with pytest.raises(FeatureError, match=f"names '{field}', which is not a field of "
                                           "dataset 'events'"):
        qualify(parse_condition(text), EVENTS, "e")


def test_column_names_are_stable_and_unique() -> None:
    assert slugs(["commerce.purchases", "a.b", "a_b", "A.B"]) == {
        "A.B": "A_B", "a.b": "a_b_2", "a_b": "a_b_3", "commerce.purchases": "commerce_purchases"}
