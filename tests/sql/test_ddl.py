"""Derived datasets and catalog statements: CREATE TABLE AS, INSERT INTO, DROP TABLE, views,
SHOW TABLES, ALTER TABLE keys and labels, read-only sessions."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from distillery import Platform
from distillery.errors import AlreadyExistsError, QueryError, UnknownTableError
from distillery.lake import tables
from distillery.sql.errors import (
    ColumnMismatchError,
    DuplicateTableError,
    WriteFailedError,
    WrongObjectTypeError,
)
from tests.sql.conftest import USER_A, USER_B, USER_C

CTAS = ("CREATE TABLE per_user AS SELECT _tenant.userid AS userId, count(*) AS events, "
        "sum(CASE WHEN eventType = 'web.formFilledOut' THEN 1 ELSE 0 END) AS conversions "
        "FROM events GROUP BY 1 ORDER BY 1")


def test_ctas_creates_a_dataset_in_one_batch_and_returns_its_id(journeys: Platform) -> None:
    result = journeys.query(CTAS)
    info = result.arrow().to_pylist()[0]
    ds = journeys.dataset("per_user")
    assert info["dataSetId"] == ds.id == result.scalar()
    assert (info["rows"], info["snapshot"], result.rowcount) == (3, 1, 3)
    batches = journeys.catalog.batches(ds.id)
    assert [(b.state, b.output_records, b.snapshot) for b in batches] == [("success", 3, 1)]
    assert tables.version(journeys.lake.path(ds)) == 1
    # Spark's sum of integers is a BIGINT, and so is the stored column.
    arrow = journeys.query("SELECT * FROM per_user ORDER BY userId").arrow()
    assert arrow.schema.field("conversions").type == pa.int64()
    assert arrow.to_pylist() == [
        {"userId": USER_A, "events": 6, "conversions": 1},
        {"userId": USER_B, "events": 3, "conversions": 0},
        {"userId": USER_C, "events": 4, "conversions": 1},
    ]


def test_ctas_into_an_existing_table(journeys: Platform) -> None:
    journeys.query(CTAS)
    with pytest.raises(DuplicateTableError, match="table per_user exists already") as info:
        journeys.query(CTAS)
    assert info.value.sqlstate == "42P07" and isinstance(info.value, AlreadyExistsError)
    skipped = journeys.query(CTAS.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
    assert skipped.rowcount == 0
    assert journeys.query("SELECT count(*) FROM per_user").scalar() == 3


def test_a_failing_ctas_leaves_no_dataset(journeys: Platform) -> None:
    before = {d.name for d in journeys.datasets()}
    # The error is raised while rows stream into the batch, after the dataset was made.
    with pytest.raises(QueryError, match="boom"):
        journeys.query("CREATE TABLE broken AS SELECT eventType, CASE WHEN eventType = "
                       "'web.formFilledOut' THEN raise_error('boom') END AS x FROM events")
    with pytest.raises(QueryError, match="'count_star\\(\\)' cannot be stored") as info:
        journeys.query("CREATE TABLE broken AS SELECT count(*) FROM events")
    assert info.value.sqlstate == "42602"
    with pytest.raises(QueryError, match="appears twice"):
        journeys.query("CREATE TABLE broken AS SELECT eventType, eventType FROM events")
    assert {d.name for d in journeys.datasets()} == before
    folders = {p.name for p in (journeys.root / "datasets").iterdir()}
    assert folders == {d.id for d in journeys.datasets()}


def test_ctas_with_options(journeys: Platform) -> None:
    journeys.query("CREATE TABLE scores WITH (label='PROFILE', description='propensity') AS "
                   "(SELECT _tenant.userid AS userId, 0.5 AS score FROM events GROUP BY 1)")
    ds = journeys.dataset("scores")
    assert ds.labels == ["PROFILE"] and ds.description == "propensity"
    assert ds.profile_enabled is False  # waits for a primary identity
    status = journeys.query("ALTER TABLE scores ADD PRIMARY KEY (userId) NAMESPACE 'ECID'")
    ds = journeys.dataset("scores")
    assert ds.schema.primary_identity.path == "userId"
    assert ds.schema.primary_identity.namespace == "ECID"
    assert ds.profile_enabled is True and status.status == "ALTER TABLE"
    # schema='title' gives the new dataset an existing schema (identities included).
    journeys.query("CREATE TABLE copy WITH (schema='Experience Events', label='PROFILE') AS "
                   "SELECT * FROM events WHERE eventType = 'web.formFilledOut'")
    copy = journeys.dataset("copy")
    assert copy.schema == journeys.dataset("events").schema and copy.profile_enabled
    with pytest.raises(QueryError, match="no schema titled 'Nope'") as info:
        journeys.query("CREATE TABLE x WITH (schema='Nope') AS SELECT 1 AS a")
    assert info.value.sqlstate == "42704"
    with pytest.raises(QueryError, match="unknown CREATE TABLE option 'colour'"):
        journeys.query("CREATE TABLE x WITH (colour='red') AS SELECT 1 AS a")
    assert journeys.lake.catalog.find_dataset("x") is None


def test_ctas_into_an_xdm_schema_refuses_rows_that_do_not_fit(journeys: Platform) -> None:
    with pytest.raises(WriteFailedError, match="CREATE TABLE bad failed, nothing was created"):
        journeys.query("CREATE TABLE bad WITH (schema='Experience Events') AS "
                       "SELECT _id, timestamp, named_struct('userid', 'anonymous') AS _tenant "
                       "FROM events")
    assert journeys.lake.catalog.find_dataset("bad") is None
    # rowvalidation='false' drops the bad rows (reported on the batch) instead of failing.
    journeys.query("CREATE TABLE lenient WITH (schema='Experience Events', "
                   "rowvalidation='false') AS SELECT _id, timestamp, "
                   "named_struct('userid', CASE WHEN _id LIKE '11%' THEN 'anonymous' "
                   "ELSE _tenant.userid END) AS _tenant FROM events")
    batch = journeys.catalog.batches(journeys.dataset("lenient").id)[0]
    assert (batch.output_records, batch.failed_records) == (7, 6)


def test_create_table_with_columns_makes_an_empty_dataset(platform: Platform) -> None:
    platform.query("CREATE TABLE t (a INT, b STRING, c STRUCT<x: DOUBLE>)")
    arrow = platform.query("SELECT * FROM t").arrow()
    assert arrow.num_rows == 0 and arrow.column_names == ["a", "b", "c"]
    platform.query("INSERT INTO t VALUES (1, 'x', named_struct('x', 2.5))")
    assert platform.query("SELECT c.x FROM t").scalar() == 2.5


def test_insert_appends_one_batch(journeys: Platform) -> None:
    journeys.query(CTAS)
    status = journeys.query("INSERT INTO per_user SELECT 'z', 1, 0")
    assert status.status == "INSERT 0 1" and status.rowcount == 1
    journeys.query("INSERT INTO per_user (conversions, userId, events) SELECT 5, 'y', 2")
    journeys.query("INSERT INTO per_user BY NAME SELECT 9 AS events, 'w' AS userId")
    rows = journeys.query("SELECT * FROM per_user WHERE userId IN ('z', 'y', 'w') "
                          "ORDER BY userId").rows()
    assert rows == [("w", 9, None), ("y", 2, 5), ("z", 1, 0)]
    ds = journeys.dataset("per_user")
    assert [b.snapshot for b in journeys.catalog.batches(ds.id)] == [1, 2, 3, 4]
    # No rows: no batch and no empty snapshot.
    assert journeys.query("INSERT INTO per_user SELECT * FROM per_user WHERE false").rowcount == 0
    assert len(journeys.catalog.batches(ds.id)) == 4


def test_insert_overwrite_replaces_every_row_in_one_snapshot(journeys: Platform) -> None:
    journeys.query(CTAS)
    journeys.query("INSERT OVERWRITE TABLE per_user SELECT 'only', 1, 1")
    assert journeys.query("SELECT userId FROM per_user").rows() == [("only",)]
    assert journeys.query("SELECT count(*) FROM per_user SNAPSHOT AS OF 1").scalar() == 3


def test_insert_mismatches_are_refused_and_write_nothing(journeys: Platform) -> None:
    journeys.query(CTAS)
    with pytest.raises(ColumnMismatchError, match="the query gives 2 column\\(s\\), the table "
                       "has 3 \\(userId, events, conversions\\)") as info:
        journeys.query("INSERT INTO per_user SELECT 'a', 1")
    assert info.value.sqlstate == "21S01"
    with pytest.raises(QueryError, match="column\\(s\\) nope are not columns") as info:
        journeys.query("INSERT INTO per_user (nope) SELECT 1")
    assert info.value.sqlstate == "42703"
    with pytest.raises(WriteFailedError, match="no row was written"):
        journeys.query("INSERT INTO per_user SELECT 'a', 'not a number', 1")
    with pytest.raises(UnknownTableError, match="table missing does not exist"):
        journeys.query("INSERT INTO missing SELECT 1")
    assert journeys.query("SELECT count(*) FROM per_user").scalar() == 3
    assert len(journeys.catalog.batches(journeys.dataset("per_user").id)) == 2  # 1 failed


def test_drop_table(journeys: Platform) -> None:
    journeys.query(CTAS)
    path = journeys.lake.path(journeys.dataset("per_user"))
    assert journeys.query("DROP TABLE per_user").status == "DROP TABLE"
    assert not Path(path).exists()
    with pytest.raises(UnknownTableError):
        journeys.query("SELECT * FROM per_user")
    with pytest.raises(UnknownTableError, match="table per_user does not exist"):
        journeys.query("DROP TABLE per_user")
    journeys.query("DROP TABLE IF EXISTS per_user")


def test_views_are_stored_and_survive_a_restart(journeys: Platform, home: Path) -> None:
    journeys.query("CREATE VIEW conversions AS SELECT _tenant.userid AS userId FROM events "
                   "WHERE eventType = 'web.formFilledOut'")
    assert journeys.query("SELECT count(*) FROM conversions").scalar() == 2
    with pytest.raises(DuplicateTableError, match="view conversions exists already"):
        journeys.query("CREATE VIEW conversions AS SELECT 1 AS a")
    journeys.query("CREATE OR REPLACE VIEW conversions AS SELECT _tenant.userid AS userId "
                   "FROM events WHERE eventType LIKE 'directMarketing%'")
    journeys.close()
    reopened = Platform.open(home)
    try:
        assert reopened.query("SELECT count(*) FROM conversions").scalar() == 6
        shown = {r["name"]: r for r in reopened.query("SHOW TABLES").arrow().to_pylist()}
        assert shown["conversions"]["class"] == "view"
        with pytest.raises(WrongObjectTypeError, match="conversions is a view"):
            reopened.query("DROP TABLE conversions")
        with pytest.raises(WrongObjectTypeError, match="events is a dataset, not a view"):
            reopened.query("DROP VIEW events")
        with pytest.raises(DuplicateTableError, match="events is a dataset"):
            reopened.query("CREATE VIEW events AS SELECT 1 AS a")
        reopened.query("DROP VIEW conversions")
        with pytest.raises(UnknownTableError):
            reopened.query("SELECT * FROM conversions")
        reopened.query("DROP VIEW IF EXISTS conversions")
    finally:
        reopened.close()


def test_a_view_cannot_hold_parameters(journeys: Platform) -> None:
    with pytest.raises(QueryError, match="cannot use parameters"):
        journeys.query("CREATE VIEW v AS SELECT * FROM events WHERE eventType = :t", {"t": "x"})
    with pytest.raises(QueryError, match="cannot read a SNAPSHOT range"):
        journeys.query("CREATE VIEW v AS SELECT * FROM events SNAPSHOT SINCE 1")


def test_labels_and_keys(journeys: Platform) -> None:
    journeys.query(CTAS)
    journeys.query("ALTER TABLE per_user ADD LABEL 'C2'")
    journeys.query("ALTER TABLE per_user ADD LABEL PROFILE")
    shown = {r["name"]: r for r in journeys.query("SHOW TABLES").arrow().to_pylist()}
    assert shown["per_user"]["labels"] == "C2,PROFILE"
    assert shown["per_user"]["profileEnabled"] is False
    journeys.query("ALTER TABLE per_user ADD CONSTRAINT PRIMARY KEY (userid) NAMESPACE ECID")
    assert journeys.dataset("per_user").profile_enabled is True
    with pytest.raises(QueryError, match=r"already has primary key _tenant\.userid"):
        journeys.query("ALTER TABLE events ADD PRIMARY KEY (eventType) NAMESPACE 'x'")
    with pytest.raises(QueryError, match="needs its primary identity; DROP LABEL 'PROFILE'"):
        journeys.query("ALTER TABLE per_user DROP PRIMARY KEY (userId)")
    journeys.query("ALTER TABLE per_user DROP LABEL 'PROFILE'")
    journeys.query("ALTER TABLE per_user DROP PRIMARY KEY (userId)")
    ds = journeys.dataset("per_user")
    assert ds.labels == ["C2"] and ds.schema.identities == () and not ds.profile_enabled
    journeys.query("ALTER TABLE events ADD IDENTITY (web.webPageDetails.name) NAMESPACE 'Page'")
    assert len(journeys.dataset("events").schema.identities) == 2


def test_bad_alter_statements_are_named(journeys: Platform) -> None:
    journeys.query(CTAS)
    cases = [
        ("ALTER TABLE nope ADD LABEL 'X'", "table nope does not exist"),
        ("ALTER TABLE per_user ADD PRIMARY KEY (nocol) NAMESPACE 'ECID'",
         "column nocol is not a field of table per_user"),
        ("ALTER TABLE per_user ADD PRIMARY KEY (events) NAMESPACE 'ECID'",
         "identity column events must be a string"),
        ("ALTER TABLE per_user ADD PRIMARY KEY (userId)", "needs NAMESPACE 'ns'"),
        ("ALTER TABLE per_user DROP LABEL 'C9'", "has no label 'C9'"),
        ("ALTER TABLE per_user ADD LABEL 'two words'", "a label is one word"),
        ("ALTER TABLE per_user RENAME TO other", "statement not supported"),
    ]
    for sql, message in cases:
        with pytest.raises(QueryError, match=message):
            journeys.query(sql)
    assert journeys.dataset("per_user").labels == []


def test_read_only_sessions_refuse_every_write(journeys: Platform) -> None:
    journeys.query(CTAS)
    session = journeys.sql.session()
    session.read_only = True
    writes = [CTAS.replace("per_user", "other"), "INSERT INTO per_user SELECT 'a', 1, 1",
              "DROP TABLE per_user", "CREATE VIEW v AS SELECT 1 AS a",
              "ALTER TABLE per_user ADD LABEL 'C2'",
              "ANALYZE TABLE per_user TABLESAMPLE SAMPLERATE 0.5",
              "$$ BEGIN SELECT 1; INSERT INTO per_user SELECT 'a', 1, 1; END $$"]
    for sql in writes:
        with pytest.raises(QueryError) as info:
            journeys.sql.query(sql, session=session)
        assert info.value.sqlstate == "25006", sql
    assert journeys.sql.query("SELECT count(*) FROM per_user", session=session).scalar() == 3
    assert journeys.sql.query("ANALYZE TABLE per_user COMPUTE STATISTICS",
                              session=session).rowcount == 3
    assert [d.name for d in journeys.datasets()] == ["events", "per_user"]


def test_a_view_over_a_dataset_no_query_has_read_yet(platform) -> None:
    import pyarrow as pa

    platform.lake.write("people", pa.table({"id": [1, 2]}))
    platform.query("CREATE VIEW first_people AS SELECT id FROM people WHERE id = 1")
    assert platform.query("SELECT * FROM first_people").rows() == [(1,)]
