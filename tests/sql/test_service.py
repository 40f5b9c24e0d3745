"""The Query Service on DuckDB: Spark SQL over datasets, nested paths, maps, parameters,
streaming, catalog statements and errors."""

from __future__ import annotations

import pyarrow as pa
import pytest

from distillery import Platform
from distillery.errors import QueryError, UnknownTableError
from tests.conftest import ECID_B, event_rows


@pytest.fixture
def loaded(platform: Platform, events) -> Platform:
    platform.ingest(events, event_rows(3) + event_rows(2, ECID_B, event_type="commerce.purchases"))
    return platform


def test_nested_paths_and_map_access_in_spark_syntax(loaded: Platform) -> None:
    rows = loaded.query(
        "SELECT _tenant.userid AS userid, identityMap['ECID'][0].id AS ecid, "
        "web.webPageDetails.pageViews.value AS views FROM events "
        "WHERE eventType = 'commerce.purchases' ORDER BY timestamp LIMIT 1"
    ).rows()
    assert rows == [(ECID_B, ECID_B, 1.0)]


def test_spark_functions_are_transpiled(loaded: Platform) -> None:
    got = loaded.query(
        "SELECT eventType, count(DISTINCT _tenant.userid) AS users, "
        "date_format(min(timestamp), 'yyyy-MM-dd') AS first_day "
        "FROM events GROUP BY eventType ORDER BY eventType"
    ).rows()
    assert got == [("commerce.purchases", 1, "2024-01-01"),
                   ("web.webpagedetails.pageViews", 1, "2024-01-01")]


def test_results_convert_and_stream(loaded: Platform) -> None:
    result = loaded.query("SELECT * FROM range(250000) t(x)")
    batches = list(result.reader(batch_size=50_000))
    assert sum(b.num_rows for b in batches) == 250_000 and len(batches) >= 2
    assert len(result.df()) == 250_000
    assert result.pl().height == 250_000
    assert isinstance(loaded.query("SELECT 1 AS a").arrow(), pa.Table)


def test_parameters_are_bound_never_pasted(loaded: Platform) -> None:
    hostile = "x'; DROP TABLE events; --"
    assert loaded.query("SELECT count(*) FROM events WHERE eventType = :t",
                        {"t": hostile}).scalar() == 0
    assert loaded.query("SELECT :t AS echoed", {"t": hostile}).scalar() == hostile
    assert loaded.query("SELECT count(*) FROM events").scalar() == 5


def test_new_batches_are_visible_to_the_next_query(loaded: Platform) -> None:
    assert loaded.query("SELECT count(*) FROM events").scalar() == 5
    loaded.ingest("events", event_rows(4))
    assert loaded.query("SELECT count(*) FROM events").scalar() == 9


def test_empty_dataset_is_queryable_with_its_columns(platform: Platform, events) -> None:
    result = platform.query("SELECT _tenant.userid, eventType FROM events")
    assert result.arrow().num_rows == 0
    assert result.arrow().column_names == ["userid", "eventType"]


def test_show_tables_and_describe(loaded: Platform) -> None:
    tables = loaded.query("SHOW TABLES").arrow().to_pylist()
    assert tables[0]["name"] == "events" and tables[0]["profileEnabled"] is True
    described = dict(loaded.query("DESCRIBE events").rows()[i][:2] for i in range(3))
    assert described["timestamp"] == "timestamp[us, tz=UTC]"


def test_several_statements_return_the_last(loaded: Platform) -> None:
    assert loaded.query("SELECT 1; SELECT 2 AS two").scalar() == 2


def test_unknown_table_is_named(loaded: Platform) -> None:
    with pytest.raises(UnknownTableError, match="table nope does not exist") as info:
        loaded.query("SELECT * FROM nope")
    assert info.value.sqlstate == "42P01"


def test_malformed_sql_is_a_syntax_error(loaded: Platform) -> None:
    with pytest.raises(QueryError, match="syntax error") as info:
        loaded.query("SELECT FROM WHERE (")
    assert info.value.sqlstate == "42601"


def test_unknown_column_and_bad_cast(loaded: Platform) -> None:
    with pytest.raises(QueryError, match='"nocol" not found') as info:
        loaded.query("SELECT nocol FROM events")
    assert info.value.sqlstate == "42703"
    # Spark's CAST is lenient (NULL on failure) and so is ours; raise_error is not.
    assert loaded.query("SELECT CAST(eventType AS INT) FROM events").scalar() is None
    with pytest.raises(QueryError, match="boom"):
        loaded.query("SELECT raise_error(concat('boom ', eventType)) FROM events").arrow()


def test_dropped_dataset_is_no_longer_served(loaded: Platform) -> None:
    loaded.drop_dataset("events")
    with pytest.raises(UnknownTableError):
        loaded.query("SELECT * FROM events")
