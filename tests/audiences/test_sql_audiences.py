"""Data Distiller's audience statements through the Query Service: CREATE AUDIENCE, INSERT
INTO AUDIENCE, INSERT OVERWRITE INTO, DROP AUDIENCE, SHOW AUDIENCES; errors; label lineage."""

from __future__ import annotations

import pytest

from distillery.audiences import MEMBERSHIPS, AudienceError, Audiences
from distillery.errors import AlreadyExistsError, DistilleryError, QueryError
from distillery.lake import labels
from tests.audiences.conftest import World, ecid

CREATE = ("CREATE AUDIENCE buyers WITH (primary_identity=userid, identity_namespace=ECID, "
          "ttl_days=30, description='people who bought') AS "
          "SELECT _tenant.userid AS userid, _tenant.propensity AS score, "
          "personalEmail.address AS email FROM profiles WHERE _tenant.propensity >= :low")
SELECT = ("SELECT _tenant.userid AS userid, _tenant.propensity AS score, "
          "personalEmail.address AS email FROM profiles ")


def members(world: World, name: str = "buyers") -> dict[str, str]:
    rows = Audiences(world.platform).members(name, with_exited=True).to_pylist()
    return {r["person_id"]: r["status"] for r in rows}


def test_create_audience_runs_the_query_into_its_dataset_and_evaluates(world: World) -> None:
    result = world.platform.query(CREATE, {"low": 0.7})
    assert result.status == "CREATE AUDIENCE"
    row = result.arrow().to_pylist()[0]
    assert (row["audience"], row["state"], row["qualified"], row["realized"]) == (
        "buyers", "SUCCEEDED", 3, 3)
    audience = Audiences(world.platform).get("buyers")
    assert (audience.kind, audience.identity, audience.namespace, audience.ttl_days) == (
        "sql", "userid", "ECID", 30)
    assert audience.options["attributes"] == ["score", "email"]
    assert world.platform.query("SELECT count(*) FROM buyers").scalar() == 3
    assert members(world) == dict.fromkeys(world.ids(7, 8, 9), "realized")


def test_insert_into_adds_and_insert_overwrite_replaces(world: World) -> None:
    platform = world.platform
    platform.query(CREATE, {"low": 0.7})
    added = platform.query("INSERT INTO AUDIENCE buyers " + SELECT +
                           "WHERE _tenant.propensity < 0.2").arrow().to_pylist()[0]
    assert (added["realized"], added["existing"], added["exited"]) == (2, 3, 0)
    replaced = platform.query("INSERT OVERWRITE INTO buyers " + SELECT +
                              "WHERE _tenant.propensity BETWEEN 0.5 AND 0.8")
    assert replaced.status == "INSERT OVERWRITE AUDIENCE"
    # Members only in the new set enter, only in the old set exit.
    assert members(world) == {**dict.fromkeys(world.ids(5, 6), "realized"),
                              **dict.fromkeys(world.ids(7, 8), "existing"),
                              **dict.fromkeys(world.ids(0, 1, 9), "exited")}
    assert platform.query("SELECT count(*) FROM buyers").scalar() == 4


def test_show_and_drop_audiences(world: World) -> None:
    platform = world.platform
    platform.query(CREATE, {"low": 0.7})
    Audiences(platform).create("rule_based", "_{tenant}.propensity > 0.5", ttl_days=7)
    shown = platform.query("SHOW AUDIENCES").arrow().to_pylist()
    assert [(r["name"], r["kind"], r["ttl_days"]) for r in shown] == [
        ("buyers", "sql", 30), ("rule_based", "rule", 7)]
    assert shown[0]["expires_at"] is not None and shown[1]["expires_at"] is None
    assert platform.query("DROP AUDIENCE buyers").status == "DROP AUDIENCE"
    assert platform.catalog.find_dataset("buyers") is None
    platform.query("DROP AUDIENCE IF EXISTS buyers")
    with pytest.raises(DistilleryError, match="audience 'buyers' does not exist"):
        platform.query("DROP AUDIENCE buyers")
    # History stays queryable.
    assert platform.query(f"SELECT count(*) FROM {MEMBERSHIPS} WHERE audience = 'buyers'")\
        .scalar() == 3


def test_create_if_not_exists_and_name_clashes(world: World) -> None:
    platform = world.platform
    platform.query(CREATE, {"low": 0.7})
    again = platform.query(CREATE.replace("CREATE AUDIENCE", "CREATE AUDIENCE IF NOT EXISTS"),
                           {"low": 0.1}).arrow().to_pylist()[0]
    assert again["state"] == "EXISTS" and platform.query("SELECT count(*) FROM buyers")\
        .scalar() == 3
    with pytest.raises(AlreadyExistsError, match="audience 'buyers' exists already"):
        platform.query(CREATE, {"low": 0.1})
    with pytest.raises(AlreadyExistsError, match="a dataset named 'profiles' exists"):
        platform.query(CREATE.replace("AUDIENCE buyers", "AUDIENCE profiles"), {"low": 0.1})


@pytest.mark.parametrize(("statement", "message"), [
    ("CREATE AUDIENCE a WITH (identity_namespace=ECID) AS SELECT _tenant.userid AS u "
     "FROM profiles", "option primary_identity is required"),
    ("CREATE AUDIENCE a WITH (primary_identity=u) AS SELECT _tenant.userid AS u "
     "FROM profiles", "option identity_namespace is required"),
    ("CREATE AUDIENCE a WITH (primary_identity=u, identity_namespace=ECID, colour=red) AS "
     "SELECT _tenant.userid AS u FROM profiles", "unknown option 'colour'"),
    ("CREATE AUDIENCE a WITH (primary_identity=_tenant.userid, identity_namespace=ECID) AS "
     "SELECT _tenant FROM profiles", "primary_identity '_tenant.userid' is not a top-level "
                                     "column of the query; its columns are \\['_tenant'\\]"),
    ("CREATE AUDIENCE a WITH (primary_identity=u, identity_namespace=ECID) AS "
     "SELECT _tenant.userid AS u, person FROM profiles", "column 'person' is a struct"),
    ("CREATE AUDIENCE a WITH (primary_identity=u, identity_namespace=ECID) AS "
     "DROP TABLE profiles", "come from one SELECT query"),
    ("CREATE AUDIENCE a WITH (primary_identity=u, identity_namespace=ECID, ttl_days=0) AS "
     "SELECT _tenant.userid AS u FROM profiles", "ttl_days must be a whole number"),
])
def test_bad_statements_name_the_problem_and_leave_nothing(world: World, statement: str,
                                                           message: str) -> None:
    with pytest.raises(DistilleryError, match=message):
        world.platform.query(statement)
    assert Audiences(world.platform).list() == []
    assert world.platform.catalog.find_dataset("a") is None
    assert world.platform.query("SELECT count(*) FROM profiles").scalar() == 10


def test_insert_with_unknown_columns_writes_nothing(world: World) -> None:
    platform = world.platform
    platform.query(CREATE, {"low": 0.7})
    with pytest.raises(AudienceError, match="has no column\\(s\\) \\['tier'\\]"):
        platform.query("INSERT INTO AUDIENCE buyers SELECT _tenant.userid AS userid, "
                       "loyalty.tier AS tier FROM profiles")
    assert platform.query("SELECT count(*) FROM buyers").scalar() == 3
    Audiences(platform).create("r", "_tenant.propensity > 0")
    with pytest.raises(AudienceError, match="defined by a rule"):
        platform.query("INSERT INTO AUDIENCE r SELECT _tenant.userid AS userid FROM profiles")


def test_a_read_only_session_cannot_create_audiences(world: World) -> None:
    session = world.platform.sql.session()
    session.read_only = True
    with pytest.raises(QueryError, match="read-only"):
        world.platform.sql.query(CREATE, {"low": 0.7}, session)
    assert world.platform.sql.query("SHOW AUDIENCES", session=session).arrow().num_rows == 0


def test_labels_follow_the_query_into_the_audience(world: World) -> None:
    platform = world.platform
    labels.add_labels(platform, "profiles", ["C2"], field="personalEmail.address")
    labels.add_labels(platform, "profiles", ["C4"], field="_tenant.propensity")
    platform.query(CREATE, {"low": 0.7})
    found = labels.labels_for(platform, "buyers")
    # `email` comes from the C2 field; the WHERE clause read the C4 field, which shapes the
    # whole audience, so C4 lands on the dataset.
    assert found == {"*": {"C4"}, "email": {"C2"}, "score": {"C4"}}
    assert ecid(7) in members(world)
