"""ANALYZE TABLE ... COMPUTE STATISTICS, SHOW STATISTICS, TABLESAMPLE SAMPLERATE, sample_meta."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from distillery import Platform
from distillery.errors import QueryError, UnknownTableError
from distillery.sql.errors import DuplicateTableError


@pytest.fixture
def numbers(platform: Platform) -> Platform:
    platform.query("CREATE TABLE numbers AS SELECT x, CASE WHEN x % 3 = 0 THEN NULL ELSE "
                   "x * 1.5 END AS y, CAST(x % 4 AS STRING) AS k, named_struct('a', x % 2, "
                   "'b', named_struct('c', 'v' || CAST(x AS STRING))) AS s, array(x) AS arr "
                   "FROM range(1, 21) t(x)")
    return platform


def by_column(result) -> dict[str, dict]:
    return {r["columnName"]: r for r in result.arrow().to_pylist()}


def test_compute_statistics_per_column(numbers: Platform) -> None:
    stats = by_column(numbers.query("ANALYZE TABLE numbers COMPUTE STATISTICS"))
    assert list(stats) == ["x", "y", "k", "s.a", "s.b.c"]  # the array is skipped
    xs = list(range(1, 21))
    ys = [x * 1.5 for x in xs if x % 3]
    assert stats["x"] == {
        "columnName": "x", "dataType": "int64", "count": 20, "distinctCount": 20,
        "nullCount": 0, "min": "1", "max": "20", "mean": pytest.approx(statistics.mean(xs)),
        "standardDeviation": pytest.approx(statistics.stdev(xs))}
    assert (stats["y"]["count"], stats["y"]["nullCount"]) == (len(ys), 20 - len(ys))
    assert stats["y"]["mean"] == pytest.approx(statistics.mean(ys))
    assert stats["y"]["standardDeviation"] == pytest.approx(statistics.stdev(ys))
    assert (stats["k"]["distinctCount"], stats["k"]["min"], stats["k"]["max"]) == (4, "0", "3")
    assert stats["k"]["mean"] is None
    assert stats["s.b.c"]["distinctCount"] == 20 and stats["s.a"]["max"] == "1"


def test_filter_columns_alias_and_show(numbers: Platform) -> None:
    result = numbers.query("ANALYZE TABLE numbers FILTERCONTEXT (x > 10 AND k <> '0') "
                           "COMPUTE STATISTICS FOR COLUMNS (x, s.b) AS big")
    stats = by_column(result)
    kept = [x for x in range(11, 21) if x % 4]
    assert list(stats) == ["x", "s.b.c"]
    assert stats["x"]["count"] == len(kept) and stats["x"]["min"] == str(min(kept))
    assert result.status == "ANALYZE big"
    assert by_column(numbers.query("SELECT * FROM big")) == stats
    assert by_column(numbers.query("SHOW STATISTICS FOR big")) == stats
    listed = numbers.query("SHOW STATISTICS").arrow().to_pylist()
    assert [(r["statsId"], r["tableName"], r["columnSet"]) for r in listed] == \
        [("big", "numbers", "(x, s.b)")]
    assert "x > 10" in listed[0]["filterContext"]
    # By id too, and a re-run under the same alias replaces the old figures.
    assert numbers.query(f"SELECT count(*) FROM {listed[0]['id']}").scalar() == 2
    numbers.query("ANALYZE TABLE numbers COMPUTE STATISTICS FOR COLUMNS (k) AS big")
    assert list(by_column(numbers.query("SELECT * FROM big"))) == ["k"]


def test_bad_analyze_statements(numbers: Platform) -> None:
    cases = [
        ("ANALYZE TABLE nope COMPUTE STATISTICS", UnknownTableError, "table nope does not"),
        ("ANALYZE TABLE numbers COMPUTE STATISTICS FOR COLUMNS (zz)", QueryError,
         "column zz does not exist"),
        ("ANALYZE TABLE numbers COMPUTE STATISTICS AS numbers", DuplicateTableError,
         "numbers is a table or view"),
        ("ANALYZE TABLE numbers", QueryError, "needs COMPUTE STATISTICS or TABLESAMPLE"),
        ("ANALYZE TABLE numbers FILTERCONTEXT x > 1 COMPUTE STATISTICS", QueryError,
         "FILTERCONTEXT needs parentheses"),
        ("ANALYZE TABLE numbers COMPUTE STATISTICS NOW", QueryError, "at 'NOW'"),
        ("SHOW STATISTICS FOR ghost", QueryError, "no statistics called ghost"),
    ]
    for sql, kind, message in cases:
        with pytest.raises(kind, match=message):
            numbers.query(sql)
    numbers.query("SET skip_stats_for_complex_datatypes = false")
    with pytest.raises(QueryError, match="column arr is an array or map"):
        numbers.query("ANALYZE TABLE numbers COMPUTE STATISTICS FOR COLUMNS (arr)")


def test_tablesample_makes_a_seeded_uniform_sample_dataset(platform: Platform) -> None:
    platform.query("CREATE TABLE big AS SELECT x FROM range(20000) t(x)")
    made = platform.query("ANALYZE TABLE big TABLESAMPLE SAMPLERATE 0.05 REPEATABLE (7)")
    info = made.arrow().to_pylist()[0]
    assert info["sample_table_name"] == "big_sample_1"
    # A Bernoulli(0.05) count over 20,000 rows lies within 6 standard deviations (~185).
    assert abs(info["sample_num_rows"] - 1000) < 185
    again = platform.query("ANALYZE TABLE big TABLESAMPLE SAMPLERATE 0.05 REPEATABLE (7)")
    assert again.scalar() == "big_sample_2"
    first = platform.query("SELECT x FROM big_sample_1 ORDER BY x").rows()
    assert first == platform.query("SELECT x FROM big_sample_2 ORDER BY x").rows()
    assert len(first) == info["sample_num_rows"]
    meta = platform.query("SELECT sample_meta('big')").arrow().to_pylist()
    assert [(m["sample_table_name"], m["sampling_rate"], m["sample_num_rows"], m["seed"])
            for m in meta] == [("big_sample_1", 0.05, len(first), 7),
                               ("big_sample_2", 0.05, len(first), 7)]
    assert meta[0]["parent_dataset_id"] == platform.dataset("big").id
    assert meta[0]["created"] is not None and meta[0]["sample_type"] == "uniform"


def test_filtered_sample_and_aep_rate_units(platform: Platform) -> None:
    platform.query("CREATE TABLE big AS SELECT x FROM range(100) t(x)")
    platform.query("ANALYZE TABLE big TABLESAMPLE FILTERCONTEXT (x < 10) SAMPLERATE 1")
    assert platform.query("SELECT count(*) FROM big_sample_1").scalar() == 10
    meta = platform.query("SELECT * FROM sample_meta('big')").arrow().to_pylist()[0]
    assert meta["filter_condition_on_source_dataset"] == "x < 10"
    # AEP counts the rate in tenths (10 = 100%), as its notebooks do (0.5 for 5%).
    platform.query("SET samplerate_unit = aep")
    platform.query("ANALYZE TABLE big TABLESAMPLE SAMPLERATE 10")
    assert platform.query("SELECT count(*) FROM big_sample_2").scalar() == 100


@pytest.mark.parametrize("rate", ["0", "1.5", "-0.2"])
def test_sample_rates_outside_the_unit_interval(platform: Platform, rate: str) -> None:
    platform.query("CREATE TABLE big AS SELECT x FROM range(10) t(x)")
    with pytest.raises(QueryError, match=f"sample rate {float(rate)} must be above 0 and at "
                       "most 1") as info:
        platform.query(f"ANALYZE TABLE big TABLESAMPLE SAMPLERATE {rate}")
    assert info.value.sqlstate == "22023"
    assert [d.name for d in platform.datasets()] == ["big"]


def test_dropping_a_table_drops_its_samples(platform: Platform) -> None:
    platform.query("CREATE TABLE big AS SELECT x FROM range(10) t(x)")
    platform.query("ANALYZE TABLE big TABLESAMPLE SAMPLERATE 0.5")
    sample = platform.dataset("big_sample_1")
    platform.query("DROP TABLE big")
    assert platform.datasets() == []
    assert not Path(platform.lake.path(sample)).exists()
