"""Data-usage labels follow CREATE TABLE AS and INSERT INTO ... SELECT: each output column gets
the labels of the fields it is computed from, fields that filter or join label the whole
result, dataset labels label the whole result, and what lineage cannot follow labels the
whole result with everything read."""

from __future__ import annotations

import pytest

from distillery import Platform
from distillery.lake import labels, xdm
from distillery.sql.errors import WriteFailedError
from distillery.sql.lineage import query_lineage

PAGE = "web.webPageDetails.name"


@pytest.fixture
def labelled(journeys: Platform) -> Platform:
    """`events` with C2 on the page name and C4 on the event type."""
    labels.add_labels(journeys, "events", ["C2"], field=PAGE)
    labels.add_labels(journeys, "events", ["C4"], field="eventType")
    return journeys


def found(platform: Platform, table: str) -> dict[str, set[str]]:
    return {k: set(v) for k, v in labels.labels_for(platform, table).items()}


def test_a_labelled_field_reaches_its_output_column_only(labelled: Platform) -> None:
    labelled.query("CREATE TABLE pages AS SELECT _tenant.userid AS userId, "
                   "web.webPageDetails.name AS page, timestamp FROM events")
    assert found(labelled, "pages") == {"page": {"C2"}}
    labelled.query("CREATE TABLE ids AS SELECT _tenant.userid AS userId, timestamp FROM events")
    assert found(labelled, "ids") == {}


def test_a_filtering_field_labels_the_whole_result(labelled: Platform) -> None:
    labelled.query("CREATE TABLE senders AS SELECT DISTINCT _tenant.userid AS userId "
                   "FROM events WHERE eventType = 'directMarketing.emailSent'")
    assert found(labelled, "senders") == {"*": {"C4"}}


def test_lineage_follows_ctes_derived_tables_unions_and_aliases(labelled: Platform) -> None:
    labelled.query(
        "CREATE TABLE last_pages AS WITH v AS (SELECT _tenant.userid AS u, web AS w, "
        "timestamp AS t FROM events) "
        "SELECT u AS userId, max(w.webPageDetails.name) AS lastPage, count(*) AS n "
        "FROM (SELECT * FROM v) x GROUP BY u ORDER BY n")
    assert found(labelled, "last_pages") == {"lastPage": {"C2"}}
    labelled.query("CREATE TABLE mixed AS SELECT _id AS a, web.webPageDetails.name AS b "
                   "FROM events UNION ALL SELECT eventType, _id FROM events")
    assert found(labelled, "mixed") == {"a": {"C4"}, "b": {"C2"}}
    # A whole struct carries the labels of the fields under it.
    labelled.query("CREATE TABLE webs AS SELECT e.web FROM events e")
    assert found(labelled, "webs") == {"web": {"C2"}}


def test_order_by_shapes_the_result_only_with_a_limit(labelled: Platform) -> None:
    labelled.query("CREATE TABLE ordered AS SELECT _id FROM events ORDER BY eventType")
    assert found(labelled, "ordered") == {}
    labelled.query("CREATE TABLE top AS SELECT _id FROM events ORDER BY eventType LIMIT 2")
    assert found(labelled, "top") == {"*": {"C4"}}


def test_dataset_labels_label_the_whole_result(journeys: Platform) -> None:
    labels.add_labels(journeys, "events", ["C9"])
    journeys.query("CREATE TABLE counts AS SELECT count(*) AS n FROM events")
    assert found(journeys, "counts") == {"*": {"C9"}}


def test_views_snapshots_and_subqueries_are_followed(labelled: Platform) -> None:
    labelled.query("CREATE VIEW pages_v AS SELECT web.webPageDetails.name AS p, _id "
                   "FROM events")
    labelled.query("CREATE TABLE from_view AS SELECT p FROM pages_v")
    assert found(labelled, "from_view") == {"p": {"C2"}}
    labelled.query("CREATE TABLE from_snapshot AS SELECT e.web.webPageDetails.name AS p "
                   "FROM events SNAPSHOT SINCE 1 AS e")
    assert found(labelled, "from_snapshot") == {"p": {"C2"}}
    labelled.query("CREATE TABLE picked AS SELECT _id FROM events WHERE _tenant.userid IN "
                   "(SELECT _tenant.userid FROM events WHERE web.webPageDetails.name "
                   "IS NOT NULL)")
    assert found(labelled, "picked") == {"*": {"C2"}}


def test_what_lineage_cannot_follow_gets_every_label_on_the_whole(labelled: Platform) -> None:
    query = "SELECT e._id AS a FROM events e, range(2) r"
    assert query_lineage(labelled.sql, labelled.sql.parse(query)[0]).outputs is None
    labelled.query(f"CREATE TABLE crossed AS {query}")
    assert found(labelled, "crossed") == {"*": {"C2", "C4"}}


def test_insert_select_labels_the_columns_it_writes(labelled: Platform) -> None:
    labelled.query("CREATE TABLE t (a STRING, b STRING)")
    labelled.query("INSERT INTO t SELECT _id, web.webPageDetails.name FROM events")
    assert found(labelled, "t") == {"b": {"C2"}}
    labelled.query("INSERT INTO t (b, a) SELECT _id, eventType FROM events")
    assert found(labelled, "t") == {"a": {"C4"}, "b": {"C2"}}
    labelled.query("INSERT INTO t VALUES ('x', 'y')")  # reads no dataset: nothing to carry
    assert found(labelled, "t") == {"a": {"C4"}, "b": {"C2"}}


def test_a_failed_insert_takes_back_the_labels_it_added(labelled: Platform) -> None:
    target = labelled.create_dataset("strict", xdm.experience_event_schema())
    labels.add_labels(labelled, target, ["C4"], field="eventType")
    with pytest.raises(WriteFailedError, match="INSERT INTO strict failed"):
        # _id is required: every row fails validation, so the batch fails.
        labelled.query("INSERT INTO strict BY NAME SELECT CAST(NULL AS STRING) AS _id, "
                       "timestamp, eventType, web FROM events")
    assert found(labelled, "strict") == {"eventType": {"C4"}}
    assert labelled.query("SELECT count(*) FROM strict").scalar() == 0


def test_unlabelled_sources_add_nothing(journeys: Platform) -> None:
    journeys.query("CREATE TABLE plain AS SELECT _id, eventType FROM events")
    assert found(journeys, "plain") == {}
