"""The Spark engine's pure-Python parts, without starting Spark: statement fixes, parameter
values, path mapping, the Arrow framing of streamed results, the row bookkeeping of scoring on
executors, the local driver's heap and the Spark settings' validation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from sqlglot import exp, parse_one

from distillery import config
from distillery.engines import spark_functions, spark_results, spark_session
from distillery.errors import ConfigError
from distillery.scoring.errors import ScoringError
from distillery.scoring.spark import ROW, _in_order, _partition_scorer


def test_views_become_temporary_and_nothing_else_changes() -> None:
    view = exp.Create(kind="VIEW", replace=True, this=exp.to_table("v"),
                      expression=parse_one("SELECT a FROM t", read="spark"))
    once = spark_functions.transform(view).sql("spark")
    assert once == "CREATE OR REPLACE TEMPORARY VIEW v AS SELECT a FROM t"
    assert spark_functions.transform(view).sql("spark") == once  # idempotent
    table = parse_one("CREATE TABLE x AS SELECT 1 AS a", read="spark")
    assert spark_functions.transform(table.copy()).sql("spark") == table.sql("spark")
    query = parse_one("SELECT randn(), inline(array(struct(1, 2))) FROM t", read="spark")
    assert spark_functions.transform(query.copy()).sql("spark") == query.sql("spark")


def test_naive_datetimes_are_utc_and_other_values_pass_through() -> None:
    assert spark_results.parameter(datetime(2025, 1, 2, 3, 4)) == \
        datetime(2025, 1, 2, 3, 4, tzinfo=UTC)
    aware = datetime(2025, 1, 2, tzinfo=UTC)
    assert spark_results.parameter(aware) is aware
    for value in (1, 2.5, "x", True, None, date(2025, 1, 2), [1, 2]):
        assert spark_results.parameter(value) == value


def test_path_map_rewrites_only_paths_under_the_prefix() -> None:
    mapping = spark_session.path_map({spark_session.PATH_MAP_KEY: "/mnt/lake/=s3a://b/lake"})
    assert mapping == ("/mnt/lake", "s3a://b/lake")
    assert spark_session.map_path("/mnt/lake/ds/part-0.parquet", mapping) == \
        "s3a://b/lake/ds/part-0.parquet"
    assert spark_session.map_path("/mnt/lakehouse/x.parquet", mapping) == \
        "/mnt/lakehouse/x.parquet"
    assert spark_session.map_path("/a/b", None) == "/a/b"
    assert spark_session.path_map({}) is None
    with pytest.raises(ConfigError, match="LOCAL_PREFIX=URL_PREFIX"):
        spark_session.path_map({spark_session.PATH_MAP_KEY: "/only/local"})


def batch(start: int, n: int) -> pa.RecordBatch:
    return pa.record_batch({"a": pa.array(range(start, start + n), pa.int64())})


def test_executor_encoding_round_trips_in_messages_of_about_the_batch_size() -> None:
    encode = spark_results._encoder(batch_size=25)
    parts = [batch(0, 10), batch(10, 10), batch(20, 10), batch(30, 3)]
    messages = list(encode(iter(parts)))
    assert [m.num_rows for m in messages] == [1, 1]  # 30 rows, then the 3 left
    decoded = [b for m in messages for b in pa.ipc.open_stream(m.column(0)[0].as_py())]
    assert pa.Table.from_batches(decoded).column("a").to_pylist() == list(range(33))


def test_executor_messages_stay_small_whatever_rows_the_reader_asks_for() -> None:
    """A reader asking for 16 million rows per batch must not make one huge value per
    partition: every binary value costs its size several times over in the JVM."""
    encode = spark_results._encoder(batch_size=16_000_000, max_bytes=200)
    parts = [batch(i * 10, 10) for i in range(5)]  # 80 bytes each
    messages = list(encode(iter(parts)))
    sizes = [sum(b.num_rows for b in pa.ipc.open_stream(m.column(0)[0].as_py()))
             for m in messages]
    assert sizes == [30, 20]  # 240 bytes reach the cap; the 160 left make the last one


def test_batches_are_combined_and_split_to_the_batch_size_in_order() -> None:
    schema = pa.schema([("a", pa.int64())])
    source = [batch(0, 3), batch(3, 0), batch(3, 4), batch(7, 12)]
    out = list(spark_results._rebatched(iter(source), schema, batch_size=5))
    assert all(b.num_rows <= 5 for b in out)
    assert pa.Table.from_batches(out).column("a").to_pylist() == list(range(19))


def test_batches_get_the_declared_names_and_types() -> None:
    schema = pa.schema([("x.y", pa.timestamp("us", tz="UTC")), ("1", pa.int64()),
                        ("1", pa.int64())])
    raw = pa.record_batch({"_0": pa.array([0], pa.timestamp("us", tz="Etc/UTC")),
                           "_1": pa.array([1], pa.int64()), "_2": pa.array([2], pa.int64())})
    conformed = spark_results._conform(raw, schema)
    assert conformed.schema.equals(schema)
    assert conformed.column(2).to_pylist() == [2]


def test_scores_go_back_to_their_rows() -> None:
    scored = pa.table({ROW: pa.array([2, 0, 1], pa.int64()),
                       "propensity": pa.array([0.2, 0.0, 0.1])})
    assert _in_order(scored, 3).tolist() == [0.0, 0.1, 0.2]
    with pytest.raises(ScoringError, match="exactly once"):
        _in_order(pa.table({ROW: pa.array([0, 0], pa.int64()),
                            "propensity": pa.array([0.5, 0.5])}), 2)
    with pytest.raises(ScoringError, match="2 scores for 3 rows"):
        _in_order(scored.slice(0, 2), 3)


def test_partition_scorer_feeds_the_model_the_driver_side_types() -> None:
    schema = pa.schema([("count", pa.int32()), ("name", pa.string())])
    seen: list[pa.Schema] = []

    def probability(features: Any) -> np.ndarray:
        seen.append(features.schema)
        return np.asarray(features.column("count").to_numpy(), dtype=float) / 10

    score = _partition_scorer(probability, schema)
    spark_side = pa.record_batch({  # Spark hands back int64 and large strings, columns moved
        "name": pa.array(["a", "b"], pa.large_string()),
        ROW: pa.array([7, 8], pa.int64()),
        "count": pa.array([3, 4], pa.int64())})
    out = list(score(iter([spark_side, spark_side.slice(0, 0)])))
    assert seen == [schema]
    assert len(out) == 1 and out[0].column(ROW).to_pylist() == [7, 8]
    assert out[0].column("propensity").to_pylist() == [0.3, 0.4]


GIB = 2**30


def test_a_local_driver_gets_a_quarter_of_the_memory_within_bounds() -> None:
    heap = spark_session.local_defaults
    assert heap("local[2]", {}, {}, 24 * GIB) == {"spark.driver.memory": "6144m"}
    assert heap(None, {}, {}, 2 * GIB) == {"spark.driver.memory": "1024m"}  # at least 1 GiB
    assert heap("local[*]", {}, {}, 256 * GIB) == {"spark.driver.memory": "8192m"}
    assert spark_session.machine_memory() > GIB


def test_a_chosen_heap_and_a_cluster_driver_are_left_alone() -> None:
    heap = spark_session.local_defaults
    assert heap("local[2]", {"spark.driver.memory": "2g"}, {}, 24 * GIB) == {}
    assert heap("local[2]", {}, {"SPARK_DRIVER_MEMORY": "3g"}, 24 * GIB) == {}
    assert heap("local[2]", {}, {"PYSPARK_SUBMIT_ARGS": "--driver-memory 3g pyspark-shell"},
                24 * GIB) == {}
    assert heap("spark://master:7077", {}, {}, 24 * GIB) == {}
    assert heap("local[2]", {}, {}, 0) == {}  # memory unknown: Spark's own default


def test_spark_remote_must_be_a_connect_url(tmp_path: Path) -> None:
    env = {"DISTILLERY__ENGINE": "spark", "DISTILLERY__SPARK__REMOTE": "sc://10.0.0.5:15002",
           "DISTILLERY__SPARK__MASTER": "local[2]"}
    loaded = config.load(tmp_path, env)
    assert (loaded.engine, loaded.spark.remote, loaded.spark.master) == (
        "spark", "sc://10.0.0.5:15002", "local[2]")
    with pytest.raises(ConfigError, match=r"spark\.remote.*DISTILLERY__SPARK__REMOTE.*sc://"):
        config.load(tmp_path, {"DISTILLERY__SPARK__REMOTE": "spark://10.0.0.5:7077"})
    with pytest.raises(ConfigError, match="sc://host:port"):
        spark_session.attach(None, "http://10.0.0.5:15002", {})


def test_a_connect_client_without_its_libraries_names_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(spark_session.CONNECT_CLIENT, "distillery_no_such_module",
                        "no-such-package")
    with pytest.raises(ConfigError, match=r"missing .*no-such-package.*pyspark\[connect\]"):
        spark_session.attach(None, "sc://127.0.0.1:15002", {})
