"""SNAPSHOT SINCE / AS OF / BETWEEN on Delta versions, history_meta and table_exists."""

from __future__ import annotations

import pytest

from distillery import Platform
from distillery.errors import QueryError, UnknownTableError
from distillery.sql.errors import SnapshotError, WrongObjectTypeError
from tests.sql.conftest import USER_A, USER_B, USER_C, USER_D, journey_rows


def users(platform: Platform, sql: str) -> list[str]:
    return sorted(r[0] for r in platform.query(
        f"SELECT DISTINCT _tenant.userid FROM ({sql})").rows())


def test_since_reads_the_commits_after_a_snapshot(journeys: Platform) -> None:
    # Snapshot 0 is the empty table made at creation, so SINCE 0 reads the first batch too.
    assert users(journeys, "SELECT * FROM events SNAPSHOT SINCE 0") == [USER_A, USER_B, USER_C]
    assert users(journeys, "SELECT * FROM events SNAPSHOT SINCE TAIL") == \
        [USER_A, USER_B, USER_C]
    assert users(journeys, "SELECT * FROM events SNAPSHOT SINCE 1") == [USER_C]
    assert journeys.query("SELECT count(*) FROM events SNAPSHOT SINCE HEAD").scalar() == 0


def test_as_of_reads_the_table_as_it_was(journeys: Platform) -> None:
    assert users(journeys, "SELECT * FROM events SNAPSHOT AS OF 1") == [USER_A, USER_B]
    assert journeys.query("SELECT count(*) FROM events SNAPSHOT AS OF HEAD").scalar() == 13
    assert journeys.query("SELECT count(*) FROM events SNAPSHOT AS OF 0").scalar() == 0
    # Spark's own time-travel spelling means the same.
    assert journeys.query("SELECT count(*) FROM events VERSION AS OF 1").scalar() == 9


def test_between_has_an_exclusive_start_and_an_inclusive_end(journeys: Platform) -> None:
    journeys.ingest("events", journey_rows(USER_D))  # snapshot 3
    assert users(journeys, "SELECT * FROM events SNAPSHOT BETWEEN 1 AND 2") == [USER_C]
    assert users(journeys, "SELECT * FROM events SNAPSHOT BETWEEN 0 AND 2") == \
        [USER_A, USER_B, USER_C]
    assert users(journeys, "SELECT * FROM events SNAPSHOT BETWEEN TAIL AND HEAD") == \
        [USER_A, USER_B, USER_C, USER_D]
    assert users(journeys, "SELECT * FROM events SNAPSHOT BETWEEN 2 AND HEAD") == [USER_D]
    assert journeys.query("SELECT count(*) FROM events SNAPSHOT BETWEEN 2 AND 2").scalar() == 0


def test_snapshot_keeps_aliases_joins_and_parameters(journeys: Platform) -> None:
    got = journeys.query(
        "SELECT count(*) FROM events SNAPSHOT SINCE :s AS e JOIN events AS f "
        "ON e._id = f._id WHERE e.eventType = $t", {"s": "1", "t": "web.formFilledOut"})
    assert got.scalar() == 1  # only C's conversion was added after snapshot 1


def test_history_meta_has_one_row_per_batch(journeys: Platform) -> None:
    rows = journeys.query("SELECT history_meta('events')").arrow().to_pylist()
    assert [r["snapshot_id"] for r in rows] == [1, 2]
    assert [r["parent_id"] for r in rows] == [0, 1]
    assert [r["snapshot_generation"] for r in rows] == [0, 1]
    assert [r["is_current"] for r in rows] == [False, True]
    assert all(r["is_current_ancestor"] for r in rows)
    assert [r["output_record_count"] for r in rows] == [9, 4]
    assert all(r["output_byte_size"] > 0 for r in rows)
    assert rows[0]["made_current_at"] <= rows[1]["made_current_at"]
    # AEP's notebooks read it as a subquery; FROM history_meta(...) works too.
    picked = journeys.query(
        "SELECT snapshot_id FROM (SELECT history_meta('events')) WHERE is_current = true "
        "OR snapshot_generation = 0 ORDER BY snapshot_generation ASC").rows()
    assert picked == [(1,), (2,)]
    assert journeys.query("SELECT max(snapshot_id) FROM history_meta('events')").scalar() == 2


def test_history_meta_of_a_table_without_batches_is_empty(platform: Platform, events) -> None:
    result = platform.query("SELECT * FROM history_meta('events')").arrow()
    assert result.num_rows == 0 and "snapshot_id" in result.column_names


def test_table_exists(journeys: Platform) -> None:
    assert journeys.query("SELECT table_exists('events'), table_exists('nope')").rows() == \
        [(True, False)]


def test_unknown_snapshot_ids_are_named(journeys: Platform) -> None:
    with pytest.raises(SnapshotError, match="snapshot 7 does not exist for table events: its "
                       "snapshots are 0 to 2") as info:
        journeys.query("SELECT * FROM events SNAPSHOT SINCE 7")
    assert info.value.sqlstate == "22023"
    with pytest.raises(SnapshotError, match=r"'abc' .* is not a number, HEAD or TAIL"):
        journeys.query("SELECT * FROM events SNAPSHOT AS OF $v", {"v": "abc"})
    with pytest.raises(SnapshotError, match="the end comes before the start"):
        journeys.query("SELECT * FROM events SNAPSHOT BETWEEN 2 AND 1")
    with pytest.raises(QueryError, match="no value given for parameter \\$to"):
        journeys.query("SELECT * FROM events SNAPSHOT BETWEEN 0 AND $to")


def test_snapshot_works_on_tables_only(journeys: Platform) -> None:
    journeys.query("CREATE VIEW v AS SELECT * FROM events")
    with pytest.raises(WrongObjectTypeError, match="v is a view"):
        journeys.query("SELECT * FROM v SNAPSHOT SINCE 0")
    with pytest.raises(QueryError, match="not on a view or subquery") as info:
        journeys.query("SELECT * FROM (SELECT * FROM events) SNAPSHOT SINCE 0")
    assert info.value.sqlstate == "42601"
    with pytest.raises(UnknownTableError, match="table nope does not exist"):
        journeys.query("SELECT * FROM nope SNAPSHOT SINCE 0")
    with pytest.raises(QueryError, match="SNAPSHOT SINCE expects a snapshot id"):
        journeys.query("SELECT * FROM events SNAPSHOT SINCE yesterday")


def test_a_column_called_snapshot_is_not_a_clause(platform: Platform) -> None:
    platform.query("CREATE TABLE s AS SELECT 3 AS snapshot")
    assert platform.query("SELECT snapshot FROM s WHERE snapshot BETWEEN 1 AND 5").scalar() == 3
