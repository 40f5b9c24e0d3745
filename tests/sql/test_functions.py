"""Functions the reference uses: TIME_BETWEEN_*_MATCH, histogram_numeric, corr, rand/randn,
struct and map access, explode/inline; SET auto_to_json; what user SQL may not reach."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sqlglot

from distillery import Platform
from distillery.errors import QueryError, UnknownTableError
from distillery.sql.errors import ForbiddenError
from distillery.sql.functions import rewrite_time_between
from tests.sql.conftest import USER_A, USER_B

RECENCY = """
SELECT _tenant.userid AS user, eventType,
  TIME_BETWEEN_PREVIOUS_MATCH(timestamp, eventType = 'directMarketing.emailSent', 'minutes')
    OVER (PARTITION BY _tenant.userid ORDER BY timestamp
          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS since_sent,
  TIME_BETWEEN_NEXT_MATCH(timestamp, eventType = 'directMarketing.emailOpened', 'hours')
    OVER (PARTITION BY _tenant.userid ORDER BY timestamp) AS until_opened,
  TIME_BETWEEN_PREVIOUS_MATCH(timestamp, eventType = 'directMarketing.emailSent')
    OVER (PARTITION BY _tenant.userid ORDER BY timestamp) AS seconds_since_sent
FROM events WHERE _tenant.userid IN (:a, :b) ORDER BY user, timestamp
"""


def test_time_between_previous_and_next_match(journeys: Platform) -> None:
    rows = journeys.query(RECENCY, {"a": USER_A, "b": USER_B}).rows()
    by_user = {u: [r[1:] for r in rows if r[0] == u] for u in (USER_A, USER_B)}
    # A: sent 00:00, opened 00:10, clicked 00:30, page 00:40, product 00:45, conversion 00:46.
    assert [r[1] for r in by_user[USER_A]] == [0.0, 10.0, 30.0, 40.0, 45.0, 46.0]
    assert [r[2] for r in by_user[USER_A]] == [0.0, 0.0, None, None, None, None]
    assert [r[3] for r in by_user[USER_A]] == [0.0, 600.0, 1800.0, 2400.0, 2700.0, 2760.0]
    # B: sent 00:00, sent 02:00, opened 03:00: the latest earlier match counts; until the
    # next open, in whole hours (truncated) as a negative number, as AEP returns it.
    assert [r[1] for r in by_user[USER_B]] == [0.0, 0.0, 60.0]
    assert [r[2] for r in by_user[USER_B]] == [-3.0, -1.0, 0.0]


def test_no_earlier_match_is_null(journeys: Platform) -> None:
    got = journeys.query(
        "SELECT TIME_BETWEEN_PREVIOUS_MATCH(timestamp, eventType = 'web.formFilledOut', 'days')"
        " OVER (PARTITION BY _tenant.userid ORDER BY timestamp) FROM events "
        "WHERE eventType <> 'web.formFilledOut'").arrow().column(0).null_count
    assert got == 11


def test_time_between_is_written_once_for_every_engine() -> None:
    tree = sqlglot.parse_one(
        "SELECT TIME_BETWEEN_PREVIOUS_MATCH(ts, e = 'a', 'minutes') OVER (PARTITION BY u "
        "ORDER BY ts) AS m FROM t", read="spark")
    spark = rewrite_time_between(tree).sql("spark")
    assert "TIME_BETWEEN" not in spark.upper()
    assert "LAST_VALUE(CASE WHEN e = 'a' THEN ts END) IGNORE NULLS OVER (PARTITION BY u " \
           "ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)" in spark
    assert "UNIX_MICROS" in spark and "60000000.0" in spark


@pytest.mark.parametrize(("sql", "message"), [
    ("TIME_BETWEEN_PREVIOUS_MATCH(timestamp, true, 'fortnights') OVER (ORDER BY timestamp)",
     "time unit 'fortnights' is not one of"),
    ("TIME_BETWEEN_PREVIOUS_MATCH(timestamp, true)", "is a window function"),
    ("TIME_BETWEEN_NEXT_MATCH(timestamp) OVER (ORDER BY timestamp)", "takes \\(timestamp, "),
])
def test_time_between_misuse(journeys: Platform, sql: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        journeys.query(f"SELECT {sql} FROM events")


def test_histogram_numeric_and_corr(platform: Platform) -> None:
    bins = platform.query("SELECT histogram_numeric(x, 4) FROM range(10) t(x)").scalar()
    assert [b["y"] for b in bins] == [3.0, 2.0, 2.0, 3.0]
    assert [b["x"] for b in bins] == [1.125, 3.375, 5.625, 7.875]
    assert sum(b["y"] for b in bins) == 10
    grouped = platform.query("SELECT x % 2 AS g, histogram_numeric(x, 2) FROM range(10) t(x) "
                             "GROUP BY 1 ORDER BY 1").rows()
    assert [[b["y"] for b in r[1]] for r in grouped] == [[2.0, 3.0], [2.0, 3.0]]
    x = np.arange(20.0)
    y = x ** 2
    got = platform.query("SELECT corr(x, x * x) FROM range(20) t(x)").scalar()
    assert got == pytest.approx(np.corrcoef(x, y)[0, 1])


def test_rand_and_randn_draw_from_their_distributions(platform: Platform) -> None:
    draws = platform.query("SELECT rand() AS u, randn() AS z FROM range(20000) t(x)").arrow()
    u = np.asarray(draws.column("u"))
    z = np.asarray(draws.column("z"))
    assert u.min() >= 0 and u.max() < 1
    # 20,000 draws: the sample mean and spread sit well within these bands.
    assert abs(u.mean() - 0.5) < 0.02 and abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05


def test_struct_and_map_access_explode_and_inline(journeys: Platform) -> None:
    got = journeys.query(
        "SELECT identityMap['ECID'][0].id, web.webPageDetails.name FROM events "
        "WHERE _id = '11-4'").rows()
    assert got == [(USER_A, "page 4")]
    assert journeys.query("SELECT explode(array(1, 2, 3)) AS v").rows() == [(1,), (2,), (3,)]
    inlined = journeys.query("SELECT inline(array(named_struct('a', 1, 'b', 'x'), "
                             "named_struct('a', 2, 'b', 'y')))")
    assert inlined.arrow().column_names == ["a", "b"]
    assert inlined.rows() == [(1, "x"), (2, "y")]
    lateral = journeys.query(
        "SELECT e.eventType, i.id FROM events e LATERAL VIEW explode(identityMap['ECID']) "
        "x AS i WHERE e._id = '11-0'").rows()
    assert lateral == [("directMarketing.emailSent", USER_A)]


def test_auto_to_json_returns_structs_maps_and_lists_as_json(journeys: Platform) -> None:
    query = "SELECT _id, identityMap, web FROM events WHERE _id = '11-3'"
    assert isinstance(journeys.query(query).rows()[0][1], list)  # a map, as Arrow gives it
    journeys.query("SET auto_to_json = true")
    _id, identity, web = journeys.query(query).rows()[0]
    assert _id == "11-3"
    assert json.loads(identity) == {"ECID": [{"id": USER_A, "authenticatedState": "ambiguous",
                                              "primary": True}]}
    assert json.loads(web)["webPageDetails"]["name"] == "page 3"
    journeys.query("SET auto_to_json = false")
    assert not isinstance(journeys.query(query).rows()[0][2], str)


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM 'data.csv'",
    "SELECT * FROM `/etc/passwd`",
    "SELECT * FROM query('SELECT 1')",
    "SELECT * FROM glob('/*')",
    "SELECT read_text('/etc/hostname')",
    "SELECT getenv('HOME')",
])
def test_user_sql_cannot_reach_files(journeys: Platform, sql: str) -> None:
    with pytest.raises(QueryError) as info:
        journeys.query(sql)
    # Refused (42501), not a table (42P01) or not even parsed (42601): never read.
    assert info.value.sqlstate in ("42501", "42P01", "42601")
    assert isinstance(info.value, ForbiddenError | UnknownTableError) or \
        info.value.sqlstate == "42601"


def test_engine_commands_are_not_statements(journeys: Platform) -> None:
    for sql in ("ATTACH 'x.db' AS x", "INSTALL httpfs", "COPY events TO 'out.csv'",
                "PRAGMA show_tables"):
        with pytest.raises(QueryError) as info:
            journeys.query(sql)
        assert info.value.sqlstate in ("0A000", "42601"), sql
