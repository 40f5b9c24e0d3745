"""The same Data Distiller SQL text gives the same rows on DuckDB and on Spark: the reference's
funnel, its TIME_BETWEEN_PREVIOUS_MATCH featurization, snapshot reads, bound parameters, and
datasets written back by CREATE TABLE AS."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from distillery import Platform
from tests.spark.compare import assert_same_rows
from tests.spark.test_training_parity import dataset_rows

pytestmark = [pytest.mark.spark, pytest.mark.slow]

FUNNEL = """
SELECT eventType, COUNT(DISTINCT _tenant.userid) AS users, COUNT(*) AS events
FROM experience_events
WHERE eventType IN ('directMarketing.emailSent', 'directMarketing.emailOpened',
                    'directMarketing.emailClicked', 'web.formFilledOut')
GROUP BY eventType ORDER BY users DESC"""

WINDOW = "OVER (PARTITION BY _tenant.userid ORDER BY timestamp, _id)"
FEATURES = f"""
SELECT _tenant.userid AS userId, _id, eventType, timestamp,
  SUM(CASE WHEN eventType = 'web.formFilledOut' THEN 1 ELSE 0 END)
    OVER (PARTITION BY _tenant.userid) AS subscriptionOccurred,
  SUM(CASE WHEN eventType = 'directMarketing.emailOpened' THEN 1 ELSE 0 END) {WINDOW}
    AS emailsOpened,
  TIME_BETWEEN_PREVIOUS_MATCH(timestamp, eventType = 'directMarketing.emailSent', 'minutes')
    {WINDOW} AS minutes_since_emailSent,
  TIME_BETWEEN_PREVIOUS_MATCH(timestamp, eventType = 'commerce.productViews', 'hours')
    {WINDOW} AS hours_since_productView,
  TIME_BETWEEN_NEXT_MATCH(timestamp, eventType = 'web.formFilledOut', 'seconds')
    {WINDOW} AS seconds_to_form
FROM experience_events"""

SNAPSHOTS = """
SELECT 'since' AS kind, eventType, count(*) AS n FROM experience_events SNAPSHOT SINCE 1
GROUP BY eventType
UNION ALL
SELECT 'as_of', eventType, count(*) FROM experience_events SNAPSHOT AS OF 1 GROUP BY eventType
UNION ALL
SELECT 'between', eventType, count(*) FROM experience_events SNAPSHOT BETWEEN TAIL AND 1
GROUP BY eventType"""


def on_both(engines: dict[str, Platform], sql: str,
            params: dict[str, object] | None = None) -> tuple[pa.Table, pa.Table]:
    return (engines["duckdb"].query(sql, params).arrow(),
            engines["spark"].query(sql, params).arrow())


def test_funnel(engines: dict[str, Platform]) -> None:
    duck, spark = on_both(engines, FUNNEL)
    assert duck.num_rows == 4
    assert duck.equals(spark)  # ORDER BY users: the same order too


def test_time_between_featurization(engines: dict[str, Platform]) -> None:
    duck, spark = on_both(engines, FEATURES)
    assert duck.num_rows > 10_000
    recency = duck.column("minutes_since_emailSent")
    assert 0 < recency.null_count < duck.num_rows
    assert_same_rows(duck, spark, keys=["userId", "timestamp", "_id"])


def test_snapshot_reads(engines: dict[str, Platform]) -> None:
    duck, spark = on_both(engines, SNAPSHOTS)
    kinds = set(duck.column("kind").to_pylist())
    assert kinds == {"since", "as_of", "between"}
    assert_same_rows(duck, spark)


def test_bound_parameters_naive_times_are_utc(engines: dict[str, Platform]) -> None:
    sql = ("SELECT count(*) AS n FROM experience_events WHERE timestamp < :t "
           "AND eventType = :kind")
    naive = {"t": datetime(2025, 1, 15), "kind": "directMarketing.emailSent"}
    aware = {"t": datetime(2025, 1, 15, tzinfo=UTC), "kind": "directMarketing.emailSent"}
    counts = {(name, label): p.query(sql, values).scalar()
              for name, p in engines.items() for label, values in
              (("naive", naive), ("aware", aware))}
    assert len(set(counts.values())) == 1 and counts["duckdb", "naive"] > 0


def test_create_table_as_writes_the_same_dataset(engines: dict[str, Platform]) -> None:
    query = ("AS SELECT _tenant.userid AS person, count(*) AS events, "
             "max(timestamp) AS last_seen, avg(commerce.order.priceTotal) AS mean_order "
             "FROM experience_events GROUP BY _tenant.userid")
    for name, platform in engines.items():
        platform.query(f"CREATE TABLE per_person_{name} {query}")
    duck = dataset_rows(engines["duckdb"], "per_person_duckdb")
    spark = dataset_rows(engines["spark"], "per_person_spark")
    assert duck.num_rows > 1_000
    assert engines["duckdb"].dataset("per_person_duckdb").schema.to_arrow() == \
        engines["spark"].dataset("per_person_spark").schema.to_arrow()
    assert_same_rows(duck, spark, keys=["person"])


def test_views_are_served_on_spark(engines: dict[str, Platform]) -> None:
    spark = engines["spark"]
    spark.query("CREATE VIEW emails AS SELECT * FROM experience_events "
                "WHERE eventType LIKE 'directMarketing.%'")
    try:
        count = "SELECT count(*) FROM emails"
        assert spark.query(count).scalar() == engines["duckdb"].query(count).scalar() > 0
    finally:
        spark.query("DROP VIEW emails")


def test_histogram_numeric_agrees_on_what_both_engines_promise(
        engines: dict[str, Platform]) -> None:
    # Spark places its bins adaptively (a streaming histogram whose bins depend on the order
    # rows arrive in) and DuckDB's macro uses equal-width bins, so the bins themselves differ;
    # both promise at most nb bins, every row counted once, and centres within the data.
    sql = ("SELECT histogram_numeric(hour(timestamp), 5) AS h, count(*) AS n, "
           "min(hour(timestamp)) AS lo, max(hour(timestamp)) AS hi FROM experience_events")
    for result in on_both(engines, sql):
        row = result.to_pylist()[0]
        assert 0 < len(row["h"]) <= 5
        assert sum(b["y"] for b in row["h"]) == pytest.approx(row["n"])
        assert all(row["lo"] <= b["x"] <= row["hi"] for b in row["h"])
