"""Audience rules evaluate to the same members on DuckDB and on Spark: the rule compiles to one
SQLGlot tree (profile conditions, string functions, regular expressions, correlated event
subqueries) that each engine runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from distillery import Platform
from distillery.audiences import Audiences
from distillery.lake import xdm
from tests.audiences.conftest import NOW, PEOPLE, event_rows, profile_row, scored_schema

pytestmark = [pytest.mark.spark, pytest.mark.slow]

RULES = {
    "likely": "_{tenant}.propensity >= 0.5",
    "gold_not_mc": 'loyalty.tier = "gold" and not person.name.lastName.startsWith("mc", false)',
    "regex": 'personalEmail.address.matches("p[0-2]@.*")',
    "recent_buyers": 'exists E from xEvent where E.eventType = "commerce.purchases" and '
                     'E.timestamp occurs <= 30 days before now',
    "viewers": 'xEvent[eventType = "web.webpagedetails.pageViews"].count() >= 3',
    "lapsed": "not exists E from xEvent where E.timestamp occurs <= 1 month before now",
}


@pytest.fixture(scope="module")
def audience_engines(spark: Any, tmp_path_factory: pytest.TempPathFactory
                     ) -> dict[str, Platform]:
    home: Path = tmp_path_factory.mktemp("audiences") / "home"
    with Platform.open(home) as p:
        p.create_dataset("profiles", scored_schema(), profile_enabled=True)
        p.create_dataset("experience_events", xdm.experience_event_schema(),
                         profile_enabled=True)
        p.lake.write("profiles", [profile_row(i) for i in range(PEOPLE)])
        p.lake.write("experience_events", event_rows())
    platforms = {"duckdb": Platform.open(home, engine="duckdb"),
                 "spark": Platform.open(home, engine="spark")}
    yield platforms
    for p in platforms.values():
        p.close()


def members(platform: Platform, name: str) -> list[tuple[str, str]]:
    audiences = Audiences(platform)
    audiences.create(name, RULES[name.split("__")[0]])
    job = audiences.evaluate(name, as_of=NOW)
    assert job.state == "SUCCEEDED"
    rows = audiences.members(name).to_pylist()
    return sorted((r["person_id"], r["status"]) for r in rows)


def test_rules_select_the_same_people(audience_engines: dict[str, Platform]) -> None:
    for rule in RULES:
        found = {engine: members(p, f"{rule}__{engine}")
                 for engine, p in audience_engines.items()}
        assert found["duckdb"] == found["spark"], rule
        assert found["duckdb"], f"{rule} selects nobody: the comparison would prove nothing"
