"""The embedded default engine: DuckDB, in process.

DuckDB reads each dataset's Parquet files directly (the current Delta version's file list), so
queries run at DuckDB's full speed with projection and filter push-down. Extensions are never
installed or loaded: they download at run time, and Distillery runs offline. Every statement
this module writes itself is a SQLGlot tree compiled for DuckDB.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from distillery.engines import duckdb_functions
from distillery.engines.base import Engine

_DIALECT = "duckdb"
_UNKNOWN_TABLE = re.compile(r"Table with name (\S+) does not exist", re.IGNORECASE)
_SQLSTATES: list[tuple[type[Exception], str]] = [
    (duckdb.CatalogException, "42P01"),
    (duckdb.BinderException, "42703"),
    (duckdb.ParserException, "42601"),
    (duckdb.ConversionException, "22018"),
    (duckdb.OutOfRangeException, "22003"),
    (duckdb.InvalidInputException, "22023"),
    (duckdb.InterruptException, "57014"),
    (duckdb.OutOfMemoryException, "53200"),
]


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier."""
    return exp.to_identifier(name, quoted=True).sql(_DIALECT)


def quote_literal(text: str) -> str:
    """A single-quoted SQL string literal."""
    return exp.Literal.string(text).sql(_DIALECT)


def scan_files(files: list[str]) -> exp.Expression:
    """The table expression that reads `files` (Parquet, one schema), as SQLGlot.

    Hive partitioning is off: a `key=value` folder in the home's path must not become a column.
    """
    if not files:
        raise ValueError("scan_files needs at least one file")
    return exp.ReadParquet(expressions=[
        exp.Array(expressions=[exp.Literal.string(f) for f in files]),
        exp.EQ(this=exp.column("hive_partitioning"), expression=exp.false()),
    ])


class DuckDBEngine(Engine):
    """DuckDB with one connection; each query runs on its own cursor, so threads and
    streaming results never block each other."""

    NAME = "duckdb"
    DIALECT = _DIALECT
    ERRORS = (duckdb.Error,)

    def __init__(self, threads: int | None = None, memory_limit: str | None = None) -> None:
        config: dict[str, Any] = {"autoinstall_known_extensions": False,
                                  "autoload_known_extensions": False,
                                  # DuckDB 2.0.0 was seen crashing on an ORDER BY ... LIMIT
                                  # lookup over events with late materialization on.
                                  "disabled_optimizers": "late_materialization"}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        self._con = duckdb.connect(config=config)
        self._lock = threading.Lock()
        duckdb_functions.install(self._con)

    def classify(self, exc: Exception) -> tuple[str, str | None]:
        missing = _UNKNOWN_TABLE.search(str(exc))
        if missing:
            return "42P01", missing.group(1)
        return next((s for cls, s in _SQLSTATES if isinstance(exc, cls)), "XX000"), None

    def scan(self, files: list[str]) -> exp.Expression:
        """The table expression reading `files`, to put in a FROM clause (snapshot reads)."""
        return scan_files(files)

    def transform(self, tree: exp.Expression) -> exp.Expression:
        """Rewrite Spark functions DuckDB spells differently (see `duckdb_functions`)."""
        return duckdb_functions.transform(tree)

    def tables(self) -> list[str]:
        """Names of the tables and views the engine serves (datasets, views, others')."""
        query = exp.union(
            exp.select("view_name").from_("duckdb_views()").where("NOT internal"),
            exp.select("table_name").from_("duckdb_tables()"), distinct=False)
        with self.cursor() as cur:
            return cur.sql(query.sql(_DIALECT)).to_arrow_table().column(0).to_pylist()

    def register(self, name: str, files: list[str], schema: pa.Schema) -> None:
        if files:
            source: exp.Expression = scan_files(files)
        else:
            # A typed empty table: Python objects registered on one cursor are not visible
            # to the others, tables are.
            source = exp.to_table(f"__empty_{name}", quoted=True)
            empty = exp.Create(kind="TABLE", replace=True, this=source.copy(),
                               expression=exp.select("*").from_("__arrow_empty"))
            with self._lock:
                self._con.register("__arrow_empty", schema.empty_table())
                self._con.execute(empty.sql(_DIALECT))
                self._con.unregister("__arrow_empty")
        view = exp.Create(kind="VIEW", replace=True, this=exp.to_table(name, quoted=True),
                          expression=exp.select("*").from_(source))
        with self._lock:
            self._con.execute(view.sql(_DIALECT))

    def unregister(self, name: str) -> None:
        drops = [exp.Drop(kind="VIEW", exists=True, tables=[exp.to_table(name, quoted=True)]),
                 exp.Drop(kind="TABLE", exists=True,
                          tables=[exp.to_table(f"__empty_{name}", quoted=True)])]
        with self._lock:
            for drop in drops:
                self._con.execute(drop.sql(_DIALECT))

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the shared database (views are shared, results are not)."""
        return self._con.cursor()

    def reader(self, sql: str, params: dict[str, Any] | None = None,
               batch_size: int = 100_000, cursor: Any = None) -> pa.RecordBatchReader:
        rel = (cursor or self.cursor()).sql(sql, params=params or None)
        if rel is None:
            return pa.RecordBatchReader.from_batches(pa.schema([]), [])
        hugeint = [i for i, t in enumerate(rel.types) if str(t) == "HUGEINT"]
        reader = rel.to_arrow_reader(batch_size)
        return _as_bigint(reader, hugeint) if hugeint else reader

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with self.cursor() as cur:
            cur.execute(sql, params or None)

    def close(self) -> None:
        self._con.close()


def _as_bigint(reader: pa.RecordBatchReader, columns: list[int]) -> pa.RecordBatchReader:
    """DuckDB sums integers into HUGEINT (exported as decimal(38, 0)); Spark sums them into
    BIGINT. Cast those columns to int64 so results and derived datasets keep Spark's types
    (a sum beyond int64 fails the cast rather than wrapping)."""
    fields = list(reader.schema)
    for i in columns:
        fields[i] = pa.field(fields[i].name, pa.int64(), fields[i].nullable)
    schema = pa.schema(fields, metadata=reader.schema.metadata)

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            arrays = [c.cast(pa.int64()) if i in columns else c
                      for i, c in enumerate(batch.columns)]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())
