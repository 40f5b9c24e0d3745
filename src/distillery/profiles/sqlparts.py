"""Small SQLGlot builders shared by the profile queries.

Distillery writes its own SQL as expression trees and compiles them to the engine's dialect;
these helpers build the recurring pieces (a dotted field path, a bound parameter, a Parquet
file list with each row's file name and row number).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from sqlglot import exp

from distillery.engines.local import duckdb_for as engine


def ident(name: str) -> exp.Identifier:
    """A quoted identifier (names may hold dots or capitals)."""
    return exp.to_identifier(name, quoted=True)


def path(dotted: str, table: str | None = None) -> exp.Expr:
    """The column or struct field at a dotted path (`_tenant.userid`), optionally qualified."""
    parts = [ident(p) for p in ([table] if table else []) + dotted.split(".")]
    return parts[0] if len(parts) == 1 else exp.Dot.build(parts)


def param(name: str) -> exp.Placeholder:
    """A named bound parameter (`$name` in DuckDB)."""
    return exp.Placeholder(this=name)


def read_files(param_name: str, *, record_ids: bool = False) -> exp.Expr:
    """The rows of the Parquet files bound to `param_name`. With `record_ids`, each row also
    has `filename` and `file_row_number`, which identify a record. Hive partitioning is off:
    a `key=value` folder in the home's path must not become a column."""
    options = [exp.EQ(this=exp.column("hive_partitioning"), expression=exp.false())]
    if record_ids:
        options += [exp.EQ(this=exp.column(c), expression=exp.true())
                    for c in ("filename", "file_row_number")]
    return exp.Anonymous(this="read_parquet", expressions=[param(param_name), *options])


def parquet_files(param_name: str, alias: str) -> exp.Table:
    """`read_files(..., record_ids=True)` as a table with an alias."""
    return exp.Table(this=read_files(param_name, record_ids=True),
                     alias=exp.TableAlias(this=ident(alias)))


def struct(fields: Mapping[str, exp.Expr]) -> exp.Struct:
    """A struct value with the given named fields."""
    return exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(k),
                                                  expression=v) for k, v in fields.items()])


def null_of(arrow_type: pa.DataType) -> exp.Expr:
    """A typed NULL, for a field a source does not have."""
    return exp.cast(exp.null(), duckdb_type(arrow_type))


def duckdb_type(arrow_type: pa.DataType) -> exp.DataType:
    """The SQL type of an Arrow type (scalars, lists, structs, maps)."""
    return exp.DataType.build(_type_text(arrow_type), dialect="duckdb")


_SCALARS = {
    pa.string(): "VARCHAR", pa.large_string(): "VARCHAR", pa.bool_(): "BOOLEAN",
    pa.int8(): "TINYINT", pa.int16(): "SMALLINT", pa.int32(): "INTEGER", pa.int64(): "BIGINT",
    pa.float32(): "REAL", pa.float64(): "DOUBLE", pa.date32(): "DATE",
}


def _type_text(t: pa.DataType) -> str:
    if t in _SCALARS:
        return _SCALARS[t]
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"{_type_text(t.value_type)}[]"
    if pa.types.is_map(t):
        return f"MAP({_type_text(t.key_type)}, {_type_text(t.item_type)})"
    if pa.types.is_struct(t):
        inner = ", ".join(f'"{t.field(i).name}" {_type_text(t.field(i).type)}'
                          for i in range(t.num_fields))
        return f"STRUCT({inner})"
    raise TypeError(f"no SQL type for Arrow type {t}")


def run(platform: Any, query: exp.Expr, params: dict[str, Any] | None = None,
        tables: dict[str, pa.Table] | None = None, batch_size: int = 200_000
        ) -> pa.RecordBatchReader:
    """Compile `query` for DuckDB and stream its rows on a fresh cursor.

    Args:
        platform: The platform whose engine (see `engine`) runs the query.
        query: The statement.
        params: Values bound to its placeholders.
        tables: Arrow tables visible to this query only, by name.
        batch_size: Rows per streamed batch.
    """
    eng = engine(platform)
    cursor = eng.cursor()
    for name, table in (tables or {}).items():
        cursor.register(name, table)
    return eng.reader(query.sql(dialect="duckdb"), params, batch_size, cursor=cursor)


def fetch(platform: Any, query: exp.Expr, params: dict[str, Any] | None = None,
          tables: dict[str, pa.Table] | None = None) -> pa.Table:
    """All rows of `query` as one Arrow table (see `run`)."""
    return run(platform, query, params, tables).read_all()
