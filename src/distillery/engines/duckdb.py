"""The embedded default engine: DuckDB, in process.

DuckDB reads each dataset's Parquet files directly (the current Delta version's file list), so
queries run at DuckDB's full speed with projection and filter push-down. Extensions are never
installed or loaded: they download at run time, and Distillery runs offline.
"""

from __future__ import annotations

import threading
from typing import Any

import duckdb
import pyarrow as pa

from distillery.engines import duckdb_functions
from distillery.engines.base import Engine


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


class DuckDBEngine(Engine):
    """DuckDB with one connection; each query runs on its own cursor, so threads and
    streaming results never block each other."""

    NAME = "duckdb"
    DIALECT = "duckdb"

    def __init__(self, threads: int | None = None, memory_limit: str | None = None) -> None:
        config: dict[str, Any] = {"autoinstall_known_extensions": False,
                                  "autoload_known_extensions": False}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        self._con = duckdb.connect(config=config)
        self._lock = threading.Lock()
        duckdb_functions.install(self._con)

    def register(self, name: str, files: list[str], schema: pa.Schema) -> None:
        ident = quote_ident(name)
        if files:
            paths = ", ".join(quote_literal(f) for f in files)
            source = f"read_parquet([{paths}])"
        else:
            # A typed empty table: Python objects registered on one cursor are not visible
            # to the others, tables are.
            source = quote_ident(f"__empty_{name}")
            with self._lock:
                self._con.register("__arrow_empty", schema.empty_table())
                self._con.execute(f"CREATE OR REPLACE TABLE {source} AS "
                                  "SELECT * FROM __arrow_empty")
                self._con.unregister("__arrow_empty")
        with self._lock:
            self._con.execute(f"CREATE OR REPLACE VIEW {ident} AS SELECT * FROM {source}")

    def unregister(self, name: str) -> None:
        with self._lock:
            self._con.execute(f"DROP VIEW IF EXISTS {quote_ident(name)}")
            self._con.execute(f"DROP TABLE IF EXISTS {quote_ident(f'__empty_{name}')}")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the shared database (views are shared, results are not)."""
        return self._con.cursor()

    def reader(self, sql: str, params: dict[str, Any] | None = None,
               batch_size: int = 100_000, cursor: Any = None) -> pa.RecordBatchReader:
        rel = (cursor or self.cursor()).sql(sql, params=params or None)
        if rel is None:
            return pa.RecordBatchReader.from_batches(pa.schema([]), [])
        return rel.to_arrow_reader(batch_size)

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with self.cursor() as cur:
            cur.execute(sql, params or None)

    def close(self) -> None:
        self._con.close()
