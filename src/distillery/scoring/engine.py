"""Where scoring's own queries run: the platform's engine when it is DuckDB, else an embedded
DuckDB of their own (scoring reads Parquet files it staged, and datasets' files, directly)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlglot import exp

from distillery.engines.local import duckdb_for as engine


def read_files(param_name: str) -> exp.Expr:
    """The rows of the Parquet files bound to `param_name` (hive partitioning off, so a
    `key=value` folder in the home's path never becomes a column)."""
    return exp.Anonymous(this="read_parquet", expressions=[
        exp.Placeholder(this=param_name),
        exp.EQ(this=exp.column("hive_partitioning"), expression=exp.false())])


def reader(platform: Any, query: exp.Expr, params: dict[str, Any] | None = None,
           tables: dict[str, pa.Table] | None = None, batch_size: int = 200_000
           ) -> pa.RecordBatchReader:
    """Stream the rows of `query` (compiled for DuckDB) on a fresh cursor; `tables` are
    Arrow tables visible to this query only."""
    eng = engine(platform)
    cursor = eng.cursor()
    for name, table in (tables or {}).items():
        cursor.register(name, table)
    return eng.reader(query.sql(dialect="duckdb"), params, batch_size, cursor=cursor)
