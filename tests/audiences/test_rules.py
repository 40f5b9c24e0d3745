"""PQL rules compiled to SQL and run on DuckDB over real Delta datasets (see conftest)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from distillery.audiences import Audiences, RuleError
from distillery.audiences.errors import AudienceError
from tests.audiences.conftest import NOW, World, ecid


def who(world: World, rule: str) -> set[int]:
    """Indexes of the people a rule selects, through a real evaluation."""
    audiences = Audiences(world.platform)
    name = f"a{len(audiences.list())}"
    audiences.create(name, rule)
    audiences.evaluate(name, as_of=NOW)
    people = audiences.members(name).column("person_id").to_pylist()
    return {int(p) - 10**37 for p in people}


@pytest.mark.parametrize(("rule", "expected"), [
    ("_{tenant}.propensity >= 0.2 and _{tenant}.propensity <= 0.93", set(range(2, 10))),
    ("_tenant.propensity < 0.15 or _tenant.propensity > 0.85", {0, 1, 9}),
    ("not (_tenant.propensity >= 0.3)", {0, 1, 2}),
    ('loyalty.tier = "gold" and _tenant.propensity != 0.4', {0, 2, 6, 8}),
    ("_tenant.propensity in [0.1, 0.5]", {1, 5}),
    ('person.name.lastName notIn ["Smith"]', {0, 3, 6, 9}),
    ("loyalty.tier.isNull()", {1, 3, 5, 7, 9}),
    ('person.name.lastName.startsWith("mc", false)', {0, 3, 6, 9}),
    ('person.name.lastName.startsWith("mc")', set()),
    ('personalEmail.address.endsWith("7@example.com")', {7}),
    ('personalEmail.address.contains("p1")', {1}),
    ('personalEmail.address.matches("p[0-2]@.*")', {0, 1, 2}),
    ('personalEmail.address.matches("p[0-2]")', set()),
    ('person.name.firstName.like("First_")', set(range(10))),
    ("0.75 < _tenant.propensity", {8, 9}),
])
def test_profile_conditions(world: World, rule: str, expected: set[int]) -> None:
    assert who(world, rule) == expected


@pytest.mark.parametrize(("rule", "expected"), [
    # Person i bought 5 * i days before NOW.
    ('exists E from xEvent where E.eventType = "commerce.purchases" and '
     'E.timestamp occurs <= 30 days before now', set(range(7))),
    ('exists E from xEvent where E.eventType = "commerce.purchases" and '
     'E.timestamp occurs < 30 days before now', set(range(6))),
    ('exists E from xEvent where E.eventType = "commerce.purchases" and '
     'E.timestamp occurs > 40 days before now', {9}),
    ('exists E from xEvent where E.timestamp occurs = 10 days before now', {2}),
    ('exists E from xEvent where E.timestamp occurs between "2024-03-10" and '
     '"2024-03-22"', {2, 3, 4}),
    ('xEvent[eventType = "web.webpagedetails.pageViews"].count() >= 3', {0}),
    ('xEvent.count() > 1', {0}),
    ('exists E from xEvent where E.eventType = "commerce.purchases" and '
     'E.timestamp occurs <= 2 weeks before now and _tenant.propensity > 0.1', {2}),
    ('not exists E from xEvent where E.timestamp occurs <= 1 month before now', {7, 8, 9}),
])
def test_event_conditions_are_exists_over_the_events_joined_by_identity(
        world: World, rule: str, expected: set[int]) -> None:
    assert who(world, rule) == expected


def test_relative_time_follows_the_evaluation_moment(world: World) -> None:
    audiences = Audiences(world.platform)
    rule = ('exists E from xEvent where E.eventType = "commerce.purchases" and '
            'E.timestamp occurs <= 7 days before now')
    assert audiences.size(rule, as_of=NOW) == 2  # persons 0 and 1
    assert audiences.size(rule, as_of=NOW - timedelta(days=20)) == 2  # persons 4 and 5
    assert audiences.size(rule, as_of=NOW + timedelta(days=3)) == 1  # person 0


def test_values_are_quoted_by_sqlglot_never_pasted(world: World) -> None:
    audiences = Audiences(world.platform)
    hostile = "x' OR '1'='1"
    assert audiences.size(f'person.name.lastName = "{hostile}"') == 0
    audiences.create("h", f'person.name.lastName = "{hostile}"')
    assert "= 'x'' OR ''1''=''1'" in audiences.sql_of("h")
    assert world.platform.query("SELECT count(*) FROM profiles").scalar() == 10


@pytest.mark.parametrize(("rule", "message"), [
    ("_tenant.propensty > 0.5", "field '_tenant.propensty' is not a field of table "
                                "'profiles'; did you mean _tenant.propensity\\? at column 1"),
    ('_tenant.propensity > "high"', "field '_tenant.propensity' is double and cannot be "
                                    "compared with 'high'"),
    ("person.name.lastName > 3", "is string and cannot be compared with 3"),
    ("person.name > 3", "is a struct.*compare one of its fields"),
    ("_tenant.propensity = null", "use _tenant.propensity.isNull\\(\\)"),
    ("_tenant.propensity.contains(\"1\")", "contains\\(\\) needs a text field"),
    ("person.name.lastName occurs < 3 days before now", "'occurs' needs a time field"),
    ('personalEmail.address.matches("(")', "is not a valid regular expression"),
    ("loyalty.tier", "compare it with a value"),
    ('exists E from xEvent where eventType = "x"', "an event field is written E.eventType"),
    ('identityMap.ECID = "1"', "is a map or list"),
    ('person.birthDate > "yesterday"', "is not an ISO date"),
])
def test_rules_that_do_not_fit_the_tables_are_refused_with_reasons(world: World, rule: str,
                                                                  message: str) -> None:
    with pytest.raises(RuleError, match=message):
        Audiences(world.platform).create("bad", rule)
    assert Audiences(world.platform).list() == []


def test_identity_and_tables_are_checked(world: World) -> None:
    audiences = Audiences(world.platform)
    with pytest.raises(AudienceError, match="table 'nowhere' does not exist"):
        audiences.create("a", "_tenant.propensity > 0", source="nowhere")
    with pytest.raises(AudienceError, match="identity field 'nobody' is not a field"):
        audiences.create("a", "_tenant.propensity > 0", identity="nobody")
    world.platform.drop_dataset("experience_events")
    with pytest.raises(AudienceError, match="no events table given"):
        audiences.create("a", "xEvent.count() > 0")


def test_rule_audience_over_a_table_that_is_not_a_dataset(world: World) -> None:
    world.platform.query("SELECT count(*) FROM profiles").scalar()
    world.platform.query("CREATE VIEW scored AS SELECT _tenant.userid AS id, "
                         "_tenant.propensity AS p FROM profiles")
    audiences = Audiences(world.platform)
    with pytest.raises(AudienceError, match="has no primary identity"):
        audiences.create("v", "p > 0.5", source="scored")
    with pytest.raises(AudienceError, match="give the identity namespace"):
        audiences.create("v", "p > 0.5", source="scored", identity="id")
    audiences.create("v", "p > 0.5", source="scored", identity="id", namespace="ECID")
    audiences.evaluate("v")
    assert set(audiences.members("v").column("person_id").to_pylist()) == {
        ecid(i) for i in range(6, 10)}
