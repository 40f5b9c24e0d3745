"""The Spark engine adapter on a local[2] context: serving files as tables, snapshot scans,
streamed and collected results, bound parameters, error classes, cancellation tags, and what
closing an engine leaves behind."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from distillery import Platform
from distillery.cli.main import app
from distillery.engines import spark_results, spark_session
from distillery.engines.spark import SparkEngine
from distillery.engines.spark_session import RESULTS_KEY
from distillery.errors import QueryError, UnknownTableError
from distillery.lake import xdm
from tests.conftest import event_rows

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SCHEMA = pa.schema([("id", pa.int64()), ("at", pa.timestamp("us", tz="UTC")),
                    ("tags", pa.struct([("kind", pa.string())]))])


def parquet_files(folder: Path, parts: int = 2, rows: int = 5) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for p in range(parts):
        ids = list(range(p * rows, (p + 1) * rows))
        table = pa.table({"id": ids,
                          "at": [datetime(2025, 1, 1, i, tzinfo=UTC) for i in ids],
                          "tags": [{"kind": "even" if i % 2 == 0 else "odd"} for i in ids]},
                         schema=SCHEMA)
        path = folder / f"part-{p}.parquet"
        pq.write_table(table, path)
        files.append(str(path))
    return files


@pytest.fixture
def engine(spark: Any) -> Any:
    e = SparkEngine()
    yield e
    e.close()


def rows(engine: SparkEngine, sql: str, params: dict[str, Any] | None = None,
         batch_size: int = 100_000) -> pa.Table:
    return engine.reader(sql, params, batch_size).read_all()


def test_register_serves_files_typed_and_unregister_removes(engine: SparkEngine,
                                                            tmp_path: Path) -> None:
    engine.register("things", parquet_files(tmp_path / "t"), SCHEMA)
    engine.register("nothing", [], SCHEMA)
    assert {"things", "nothing"} <= set(engine.tables())
    got = rows(engine, "SELECT tags.kind AS kind, count(*) AS n FROM things GROUP BY 1 "
                       "ORDER BY 1")
    assert got.to_pylist() == [{"kind": "even", "n": 5}, {"kind": "odd", "n": 5}]
    empty = rows(engine, "SELECT * FROM nothing")
    assert empty.num_rows == 0 and empty.schema == SCHEMA
    engine.unregister("things")
    assert "things" not in engine.tables()


def test_scan_reads_exactly_the_files_given_and_stays_private(engine: SparkEngine,
                                                              tmp_path: Path) -> None:
    files = parquet_files(tmp_path / "s", parts=3)
    first, again = engine.scan(files[:1]), engine.scan(files[:1])
    assert first == again  # one view per distinct file list
    assert rows(engine, f"SELECT count(*) AS n FROM {first.sql('spark')}").column(0) \
        .to_pylist() == [5]
    assert rows(engine, f"SELECT count(*) FROM {engine.scan(files).sql('spark')}") \
        .column(0).to_pylist() == [15]
    assert not [t for t in engine.tables() if t.startswith("_scan_")]


def test_streamed_and_collected_results_are_the_same_rows_in_order(
        engine: SparkEngine, spark: Any) -> None:
    sql = ("SELECT id, id % 7 AS k, CAST(id AS STRING) AS s, 1 AS `x.y`, 2 AS `x.y` "
           "FROM range(25000) ORDER BY k, id DESC")
    collecting = SparkEngine(conf={RESULTS_KEY: "collect"})
    try:
        streamed = list(engine.reader(sql, batch_size=4_000))
        collected = collecting.reader(sql, batch_size=4_000).read_all()
    finally:
        collecting.close()
    assert engine.results == "stream" and max(b.num_rows for b in streamed) <= 4_000
    table = pa.Table.from_batches(streamed)
    assert table.column_names == ["id", "k", "s", "x.y", "x.y"]
    assert table.equals(collected)
    assert table.column("k").to_pylist() == sorted(table.column("k").to_pylist())


TYPED = ("SELECT id, CAST(id AS DECIMAL(12, 2)) / 3 AS dec, id % 3 = 0 AS flag, "
         "IF(id % 5 = 0, NULL, CAST(id AS STRING)) AS text, CAST(CAST(id AS STRING) AS BINARY) "
         "AS raw, date_add(DATE'2025-01-01', CAST(id % 40 AS INT)) AS day, "
         "timestamp_micros(1735689600000000 + id) AS at, TIMESTAMP_NTZ'2025-01-01 10:00:00' "
         "AS naive, named_struct('k', id % 7, 'tags', array('a', IF(id % 2 = 0, NULL, 'b'))) "
         "AS nested, map('n', id) AS m, CAST(id AS DOUBLE) / 7 AS ratio "
         "FROM range(0, 3000, 1, 3)")


def test_both_streaming_paths_give_every_type_as_collected(engine: SparkEngine) -> None:
    """The JVM's Arrow batches (classic Spark) and the executors' IPC messages (the Spark
    Connect path, run here on classic Spark) decode to the rows `toArrow` collects."""
    frame = engine._frame(TYPED, None)
    schema = spark_results.arrow_schema(frame)
    collected = frame.toArrow().cast(schema)
    positional = frame.toDF(*[f"_{i}" for i in range(len(frame.columns))])
    served = spark_results._arrow_partitions(positional, 400)
    assert served is not None, "classic Spark must stream the JVM's Arrow batches"
    mapped = spark_results._mapped_partitions(positional, 400)
    for source in (served, mapped):
        table = pa.Table.from_batches([spark_results._conform(b, schema) for b in source])
        assert table.num_rows == 3_000 and table.equals(collected)
    streamed = engine.reader(TYPED, batch_size=700).read_all()
    assert streamed.equals(collected) and streamed.column("text").null_count == 600


def test_parameters_are_bound_and_naive_times_are_utc(engine: SparkEngine) -> None:
    got = rows(engine, "SELECT :n + 1 AS n, :t AS t, :s AS s",
               {"n": 41, "t": datetime(2025, 1, 2, 3, 4), "s": "it's"})
    assert got.to_pylist() == [{"n": 42, "t": datetime(2025, 1, 2, 3, 4, tzinfo=UTC),
                                "s": "it's"}]


def test_the_engine_is_chosen_by_option_then_environment_then_config(
        spark: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISTILLERY__ENGINE", raising=False)
    home.mkdir(parents=True)
    (home / "config.yaml").write_text("engine: spark\nspark:\n  master: local[2]\n")
    with Platform.open(home) as p:  # the engine starts on first use, so nothing runs yet
        assert (p.config.engine, p.config.spark.master) == ("spark", "local[2]")
    monkeypatch.setenv("DISTILLERY__ENGINE", "duckdb")
    with Platform.open(home) as p:
        assert p.config.engine == "duckdb"
    # The CLI option beats both; typeof(1) is 'int' on Spark and 'INTEGER' on DuckDB.
    ran = CliRunner().invoke(app, ["--home", str(home), "--json", "--engine", "spark", "query",
                                   "SELECT typeof(1) AS t"])
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout) == [{"t": "int"}]


def test_query_service_errors_carry_sqlstates(spark: Any, home: Path) -> None:
    with Platform.open(home, engine="spark") as p:
        p.create_dataset("events", xdm.experience_event_schema())
        p.ingest("events", event_rows(3))
        cases = {"SELECT * FROM nowhere": "42P01", "SELECT nocol FROM events": "42703",
                 "SELECT FROM WHERE": "42601", "SELECT raise_error('boom')": "P0001"}
        for sql, state in cases.items():
            with pytest.raises(QueryError) as caught:
                p.query(sql).arrow()
            assert caught.value.sqlstate == state, (sql, caught.value)
        with pytest.raises(UnknownTableError, match="nowhere does not exist"):
            p.query("SELECT * FROM nowhere")
        with pytest.raises(QueryError, match="boom"):
            p.query("SELECT raise_error('boom')").arrow()
        assert p.query("SELECT count(*) FROM events").scalar() == 3


def test_a_cursor_tags_only_its_own_jobs(engine: SparkEngine) -> None:
    cursor = engine.cursor()
    engine.reader("SELECT 1 AS one", cursor=cursor).read_all()
    assert cursor.group not in engine.spark.getTags()
    cursor.interrupt()  # nothing runs under its tag any more: later queries are unaffected
    assert rows(engine, "SELECT 2 AS two").to_pylist() == [{"two": 2}]


def test_interrupt_cancels_the_running_query_with_sqlstate_57014(engine: SparkEngine,
                                                                  spark: Any) -> None:
    """A query that would run for hours, cancelled once its job is running (the wait is
    bounded; nothing about how fast the cancel is is asserted)."""
    from distillery.sql.service import QueryService

    cursor, failure = engine.cursor(), []

    def run() -> None:
        try:
            engine.reader("SELECT sum(sqrt(id)) AS s FROM range(0, 100000000000)",
                          cursor=cursor).read_all()
        except Exception as exc:  # the outcome is checked below
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    tracker = spark.sparkContext.statusTracker()
    deadline = time.monotonic() + 300
    while not tracker.getActiveJobsIds() and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    cursor.interrupt()
    worker.join(300)
    assert not worker.is_alive() and failure, "the query was not cancelled"
    translated = QueryService.translate(cast(Any, _Service(engine)), failure[0])
    assert translated.sqlstate == "57014"


class _Service:
    """Just enough of a QueryService for `translate`."""

    def __init__(self, engine: SparkEngine) -> None:
        self.engine, self.sandbox = engine, "prod"


def test_a_local_context_starts_with_the_heap_chosen_for_it(spark: Any) -> None:
    """The tests' context is started by `spark_session.attach`, as an engine starts one: the
    driver's heap, chosen from the machine's memory, must reach the JVM before it starts."""
    chosen = spark_session.local_defaults("local[2]", {})
    if not chosen:
        pytest.skip("the driver's heap is set by the environment here")
    wanted = int(chosen[spark_session.DRIVER_MEMORY_KEY].removesuffix("m"))
    heap = spark.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory() / 2**20
    assert 0.9 * wanted <= heap <= 1.1 * wanted  # the JVM reports its heap less a little


def test_closing_an_engine_drops_its_tables_and_keeps_a_shared_context(
        spark: Any, tmp_path: Path) -> None:
    first, second = SparkEngine(), SparkEngine()
    first.register("mine", parquet_files(tmp_path / "m"), SCHEMA)
    assert "mine" not in second.tables()  # each engine has a session of its own
    first.close()
    assert not first.spark.catalog.tableExists("mine")
    assert rows(second, "SELECT 1 AS ok").to_pylist() == [{"ok": 1}]  # Spark still runs
    second.close()
    assert spark.sparkContext._jsc is not None
