"""The reference's EDA and featurization queries, written the way its notebooks write them
(f-strings over a table name and the tenant), run unchanged on the journeys of conftest.py.
Expected values come from a plain-Python reading of the same journeys."""

from __future__ import annotations

import json
from collections import Counter
from itertools import product

import numpy as np
import pytest

from distillery import Platform
from tests.sql.conftest import (
    CONVERSION,
    JOURNEYS,
    USER_A,
    USER_B,
    USER_C,
    USER_D,
    journey_rows,
)

tenant_id = "tenant"
table_name = "events"
FIRST_BATCH = (USER_A, USER_B, USER_C)  # what the `journeys` fixture ingested

RECENCIES = {  # feature name -> event type, as the reference names them
    "minutes_since_emailSent": "directMarketing.emailSent",
    "minutes_since_emailOpened": "directMarketing.emailOpened",
    "minutes_since_emailClick": "directMarketing.emailClicked",
    "minutes_since_productView": "commerce.productViews",
    "minutes_since_propositionInteract": "decisioning.propositionInteract",
    "minutes_since_propositionDismiss": "decisioning.propositionDismiss",
    "minutes_since_linkClick": "web.webinteraction.linkClicks",
}
COUNTS = {
    "emailsReceived": "directMarketing.emailSent",
    "emailsOpened": "directMarketing.emailOpened",
    "emailsClicked": "directMarketing.emailClicked",
    "productsViewed": "commerce.productViews",
    "propositionInteracts": "decisioning.propositionInteract",
    "propositionDismissed": "decisioning.propositionDismiss",
    "webLinkClicks": "web.webinteraction.linkClicks",
}
WINDOW = (f"OVER (PARTITION BY _{tenant_id}.userid ORDER BY timestamp "
          "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)")


def features_sql(source: str) -> str:
    """The reference's featurization query: one row per event (my rendition)."""
    counts = ",\n".join(
        f"SUM(CASE WHEN eventType='{kind}' THEN 1 ELSE 0 END) {WINDOW} AS {name}"
        for name, kind in COUNTS.items())
    recencies = ",\n".join(
        f"TIME_BETWEEN_PREVIOUS_MATCH(timestamp, eventType = '{kind}', 'minutes') {WINDOW} "
        f"AS {name}" for name, kind in RECENCIES.items())
    return f"""
    SELECT _{tenant_id}.userid AS userId, eventType, timestamp,
        SUM(CASE WHEN eventType='web.formFilledOut' THEN 1 ELSE 0 END)
            OVER (PARTITION BY _{tenant_id}.userid) AS subscriptionOccurred,
        {counts},
        {recencies},
        row_number() OVER (PARTITION BY _{tenant_id}.userid ORDER BY randn())
            AS random_row_number_for_user
    FROM {source}"""


TRAINING_FILTER = ("(subscriptionOccurred = 1 AND eventType = 'web.formFilledOut') OR "
                   "(subscriptionOccurred = 0 AND random_row_number_for_user = 1)")


def expected_features(user: str) -> list[dict]:
    """Plain-Python features of each event of one user."""
    rows, seen, last = [], Counter(), {}
    converted = any(kind == CONVERSION for _, kind in JOURNEYS[user])
    for minutes, kind in JOURNEYS[user]:
        seen[kind] += 1
        last[kind] = minutes
        row = {"userId": user, "eventType": kind, "subscriptionOccurred": int(converted)}
        row |= {name: seen[k] for name, k in COUNTS.items()}
        row |= {name: (float(minutes - last[k]) if k in last else None)
                for name, k in RECENCIES.items()}
        rows.append(row)
    return rows


def test_preview_and_auto_to_json(journeys: Platform) -> None:
    preview = journeys.query(f"SELECT * FROM {table_name} LIMIT 10").arrow()
    assert preview.num_rows == 10 and "identityMap" in preview.column_names
    journeys.query("SET auto_to_json=true")
    row = journeys.query(f"SELECT * FROM {table_name} LIMIT 1").arrow().to_pylist()[0]
    assert json.loads(row["identityMap"])["ECID"][0]["primary"] is True
    assert json.loads(row["_tenant"])["userid"] == row_user(row)


def row_user(row: dict) -> str:
    return json.loads(row["identityMap"])["ECID"][0]["id"]


def test_total_rows_and_distinct_users(journeys: Platform) -> None:
    got = journeys.query(f"SELECT COUNT(*) AS totalRows, COUNT(DISTINCT _{tenant_id}.userid) "
                         f"AS distinctUsers FROM {table_name}").rows()
    assert got == [(sum(len(JOURNEYS[u]) for u in FIRST_BATCH), len(FIRST_BATCH))]


def test_sample_with_analyze_and_sample_meta(journeys: Platform) -> None:
    journeys.query(f"ANALYZE TABLE {table_name} TABLESAMPLE SAMPLERATE 0.5")
    meta = journeys.query(f"SELECT sample_meta('{table_name}')").arrow().to_pylist()
    assert len(meta) == 1 and meta[0]["sampling_rate"] == 0.5
    sample = meta[0]["sample_table_name"]
    rows = journeys.query(f"SELECT count(*) FROM {sample}").scalar()
    assert rows == meta[0]["sample_num_rows"] <= 13
    assert journeys.query(f"SELECT count(*) FROM {sample} s LEFT JOIN {table_name} e "
                          "ON s._id = e._id WHERE e._id IS NULL").scalar() == 0


def test_event_funnel(journeys: Platform) -> None:
    got = journeys.query(f"""
        SELECT eventType, COUNT(DISTINCT _{tenant_id}.userid) AS distinctUsers,
               COUNT(*) AS distinctEvents
        FROM {table_name} GROUP BY eventType ORDER BY distinctUsers DESC, eventType""").rows()
    users: dict[str, set[str]] = {}
    events: Counter[str] = Counter()
    for user in FIRST_BATCH:
        for _, kind in JOURNEYS[user]:
            users.setdefault(kind, set()).add(user)
            events[kind] += 1
    expected = sorted(((k, len(u), events[k]) for k, u in users.items()),
                      key=lambda r: (-r[1], r[0]))
    assert got == expected


def test_co_occurrence_of_ordered_event_pairs(journeys: Platform) -> None:
    got = journeys.query(f"""
        SELECT a.eventType AS eventType1, b.eventType AS eventType2,
               COUNT(DISTINCT a._{tenant_id}.userid) AS users
        FROM {table_name} a JOIN {table_name} b
          ON a._{tenant_id}.userid = b._{tenant_id}.userid AND a.timestamp <= b.timestamp
        GROUP BY a.eventType, b.eventType""").rows()
    expected: dict[tuple[str, str], set[str]] = {}
    for user in FIRST_BATCH:
        for (ta, ka), (tb, kb) in product(JOURNEYS[user], repeat=2):
            if ta <= tb:
                expected.setdefault((ka, kb), set()).add(user)
    assert {(a, b): n for a, b, n in got} == {k: len(v) for k, v in expected.items()}


def test_per_user_counts_and_their_correlation_with_conversion(journeys: Platform) -> None:
    kinds = ["directMarketing.emailSent", "commerce.productViews"]
    sums = ", ".join(f"SUM(CASE WHEN eventType = '{k}' THEN 1 ELSE 0 END) AS c{i}"
                     for i, k in enumerate(kinds))
    corrs = ", ".join(f"corr(c{i}, converted) AS r{i}" for i in range(len(kinds)))
    got = journeys.query(f"""
        SELECT {corrs} FROM (
            SELECT _{tenant_id}.userid AS userId, {sums},
                   MAX(CASE WHEN eventType = 'web.formFilledOut' THEN 1 ELSE 0 END) AS converted
            FROM {table_name} GROUP BY _{tenant_id}.userid)""").rows()[0]
    converted = [float(any(k == CONVERSION for _, k in JOURNEYS[u])) for u in FIRST_BATCH]
    for i, kind in enumerate(kinds):
        counts = [float(sum(k == kind for _, k in JOURNEYS[u])) for u in FIRST_BATCH]
        assert got[i] == pytest.approx(np.corrcoef(counts, converted)[0, 1])


def test_featurization_query(journeys: Platform) -> None:
    rows = journeys.query(features_sql(table_name) + " ORDER BY userId, timestamp")
    got = rows.arrow().to_pylist()
    expected = [r for u in sorted(FIRST_BATCH) for r in expected_features(u)]
    keys = ["userId", "eventType", "subscriptionOccurred", *COUNTS, *RECENCIES]
    assert [{k: r[k] for k in keys} for r in got] == expected
    # One random row number per event of a user: 1..n in some order.
    for user in FIRST_BATCH:
        numbers = sorted(r["random_row_number_for_user"] for r in got if r["userId"] == user)
        assert numbers == list(range(1, len(JOURNEYS[user]) + 1))


def test_training_rows_as_the_reference_picks_them(journeys: Platform) -> None:
    got = journeys.query(f"SELECT * FROM ({features_sql(table_name)}) "
                         f"WHERE {TRAINING_FILTER} ORDER BY userId").arrow().to_pylist()
    assert [(r["userId"], r["subscriptionOccurred"]) for r in got] == \
        [(USER_A, 1), (USER_B, 0), (USER_C, 1)]
    conversion_a = got[0]
    assert conversion_a["eventType"] == CONVERSION
    # The leak the reference's set has: the converter's row sits 1 minute after the product
    # view that triggered it.
    assert conversion_a["minutes_since_productView"] == 1.0


def incremental_template(target: str) -> str:
    """The reference's incremental block, saved as a template (my rendition)."""
    query = (f"SELECT * FROM ({features_sql(table_name)} "
             "SNAPSHOT BETWEEN $from_snapshot_id AND $to_snapshot_id)")
    return f"""
$$ BEGIN
SET @my_table_exists = SELECT table_exists('{target}');
CREATE TABLE IF NOT EXISTS {target} AS
{query} WHERE {TRAINING_FILTER} ORDER BY timestamp;
INSERT INTO {target}
{query} WHERE @my_table_exists = 't' AND ({TRAINING_FILTER}) ORDER BY timestamp;
EXCEPTION
  WHEN OTHER THEN
    SELECT 'ERROR';
END $$;
"""


def snapshot_ids(platform: Platform) -> list[int]:
    return [r[0] for r in platform.query(
        f"SELECT snapshot_id FROM (SELECT history_meta('{table_name}')) "
        "WHERE is_current = true OR snapshot_generation = 0 "
        "ORDER BY snapshot_generation ASC").rows()]


def run(platform: Platform, name: str, start: int, end: int) -> None:
    run_id = platform.sql.run_template(name, {"from_snapshot_id": str(start),
                                              "to_snapshot_id": str(end)}, async_=True)
    finished = platform.sql.wait_for_run(run_id, timeout=120)
    assert (finished.state, finished.error_code) == ("SUCCESS", None), finished


def training_users(platform: Platform, target: str) -> list[str]:
    return sorted(r[0] for r in platform.query(f"SELECT userId FROM {target}").rows())


def test_incremental_featurization_block(journeys: Platform) -> None:
    journeys.sql.save_template("training", incremental_template("training_set"))
    assert journeys.sql.templates.get("training").parameters == ["from_snapshot_id",
                                                                  "to_snapshot_id"]
    first, current = snapshot_ids(journeys)
    # The first batch's parent (0, the empty table) as the start reads every batch.
    parent = journeys.query(f"SELECT parent_id FROM (SELECT history_meta('{table_name}')) "
                            "WHERE snapshot_generation = 0").scalar()
    run(journeys, "training", parent, current)
    assert training_users(journeys, "training_set") == [USER_A, USER_B, USER_C]
    # A new batch arrives; the next increment inserts only what it added.
    journeys.ingest(table_name, journey_rows(USER_D))
    _, newest = snapshot_ids(journeys)
    run(journeys, "training", current, newest)
    assert training_users(journeys, "training_set") == [USER_A, USER_B, USER_C, USER_D]
    ds = journeys.dataset("training_set")
    assert [b.output_records for b in journeys.catalog.batches(ds.id)] == [3, 1]
    # The reference started at the first batch's own snapshot: with the exclusive lower
    # bound, that skips the first batch (the flaw WORKFLOW.md records).
    journeys.sql.save_template("as_reference", incremental_template("reference_set"))
    run(journeys, "as_reference", first, current)
    assert training_users(journeys, "reference_set") == [USER_C]


def test_the_block_reports_errors_through_its_exception_branch(journeys: Platform) -> None:
    journeys.sql.save_template("training", incremental_template("training_set"))
    run_id = journeys.sql.run_template("training", {"from_snapshot_id": "0",
                                                    "to_snapshot_id": "99"})
    finished = journeys.sql.query_run(run_id)
    # The block handled the error (SELECT 'ERROR'); the run says which one it was.
    assert finished.state == "SUCCESS" and finished.error_code == "22023"
    assert "snapshot 99 does not exist" in finished.error_message
    assert journeys.sql.templates.result(run_id).scalar() == "ERROR"
    assert journeys.lake.catalog.find_dataset("training_set") is None

