"""Column statistics: `ANALYZE TABLE t [FILTERCONTEXT (cond)] COMPUTE STATISTICS
[FOR COLUMNS (a, b.c) | FOR ALL COLUMNS] [AS alias]` and `SHOW STATISTICS [FOR name]`.

Per column: count (non-null values), distinct count, missing (nulls), min, max, and for
numbers mean and standard deviation (sample). Nested fields are analysed leaf by leaf under
their dotted path (`web.webPageDetails.pageViews.value`); naming a struct analyses its leaves.
Arrays and maps are skipped, as AEP does by default (`SET skip_stats_for_complex_datatypes =
false` makes naming one an error instead). AEP keeps statistics for the session; Distillery
keeps them in the catalog, so they outlive it: `SELECT * FROM alias` (or the statistics id)
reads them back, and `SHOW STATISTICS` lists them. One aggregate query computes them all.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from distillery.errors import QueryError
from distillery.lake.catalog import DatasetRecord, now_iso
from distillery.sql.errors import DuplicateTableError
from distillery.sql.result import Result
from distillery.sql.values import Columns

if TYPE_CHECKING:
    from distillery.sql.service import QueryService, Session

STATS_COLUMNS: Columns = [
    ("columnName", "STRING"), ("dataType", "STRING"), ("count", "BIGINT"),
    ("distinctCount", "BIGINT"), ("nullCount", "BIGINT"), ("min", "STRING"), ("max", "STRING"),
    ("mean", "DOUBLE"), ("standardDeviation", "DOUBLE"),
]
_ALIAS = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")


def compute(service: QueryService, session: Session, ds: DatasetRecord,
            columns: list[str] | None, condition: exp.Expression | None, alias: str | None,
            params: dict[str, Any] | None) -> Result:
    """Compute, store and return statistics of `ds` (all columns, or those named)."""
    alias = _check_alias(service, alias)
    strict = session.settings.get("skip_stats_for_complex_datatypes") == "false"
    leaves = _leaves(ds.schema.to_arrow(), columns, strict)
    query = _query(ds.table_name, leaves, condition)
    row = service.open(session, query, params).read_all().to_pylist()[0]
    rows = [_row(i, path, dtype, row) for i, (path, dtype) in enumerate(leaves)]
    stats_id = f"stats_{uuid.uuid4().hex[:12]}"
    with service.lake.catalog.connect() as con:
        if alias:
            con.execute("DELETE FROM table_statistics WHERE alias = ?", (alias,))
        con.execute(
            "INSERT INTO table_statistics (id, alias, dataset_id, table_name, columns, filter,"
            " snapshot, computed_at, result_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (stats_id, alias, ds.id, ds.table_name,
             "(*)" if columns is None else "(" + ", ".join(columns) + ")",
             condition.sql("spark") if condition is not None else None, ds.version, now_iso(),
             json.dumps(rows)))
    table = pa.Table.from_pylist(rows, schema=_arrow(STATS_COLUMNS))
    return Result.of(table, status=f"ANALYZE {alias or stats_id}")


def lookup(service: QueryService, name: str) -> tuple[list[dict[str, Any]], Columns] | None:
    """The stored statistics called `name` (alias or id), if any."""
    with service.lake.catalog.connect() as con:
        row = con.execute("SELECT result_json FROM table_statistics WHERE alias = ? OR id = ?",
                          (name.lower(), name.lower())).fetchone()
    return (json.loads(row["result_json"]), STATS_COLUMNS) if row else None


def show(service: QueryService, name: str | None = None) -> Result:
    """SHOW STATISTICS: every stored computation; SHOW STATISTICS FOR name: its rows."""
    if name is not None:
        found = lookup(service, name)
        if found is None:
            raise QueryError(f"no statistics called {name}; SHOW STATISTICS lists them",
                             sqlstate="42704")
        return Result.of(pa.Table.from_pylist(found[0], schema=_arrow(STATS_COLUMNS)))
    with service.lake.catalog.connect() as con:
        rows = con.execute("SELECT * FROM table_statistics ORDER BY computed_at").fetchall()
    listed = [{"statsId": r["alias"] or r["id"], "id": r["id"], "tableName": r["table_name"],
               "columnSet": r["columns"], "filterContext": r["filter"],
               "snapshot": r["snapshot"], "timestamp": r["computed_at"]} for r in rows]
    schema = pa.schema([("statsId", pa.string()), ("id", pa.string()),
                        ("tableName", pa.string()), ("columnSet", pa.string()),
                        ("filterContext", pa.string()), ("snapshot", pa.int64()),
                        ("timestamp", pa.string())])
    return Result.of(pa.Table.from_pylist(listed, schema=schema))


def _check_alias(service: QueryService, alias: str | None) -> str | None:
    if alias is None:
        return None
    alias = alias.lower()
    if not _ALIAS.match(alias):
        raise QueryError(f"statistics alias {alias!r} is invalid: use letters, digits and '_'",
                         sqlstate="42602")
    if service.lake.catalog.find_dataset(alias) is not None or \
            alias in {v.lower() for v in service.views.names()}:
        raise DuplicateTableError(f"{alias} is a table or view; choose another alias")
    return alias


def _leaves(schema: pa.Schema, wanted: list[str] | None,
            strict: bool) -> list[tuple[str, pa.DataType]]:
    """(dotted path, type) of each analysable column, in schema order."""
    all_leaves: list[tuple[str, pa.DataType]] = []
    complex_paths: list[str] = []

    def walk(prefix: str, fields: list[pa.Field]) -> None:
        for f in fields:
            path = prefix + f.name
            if pa.types.is_struct(f.type):
                walk(path + ".", [f.type.field(i) for i in range(f.type.num_fields)])
            elif pa.types.is_nested(f.type):
                complex_paths.append(path)
            else:
                all_leaves.append((path, f.type))

    walk("", list(schema))
    if wanted is None:
        return all_leaves
    chosen: list[tuple[str, pa.DataType]] = []
    for name in wanted:
        key = name.lower()
        hits = [(p, t) for p, t in all_leaves
                if p.lower() == key or p.lower().startswith(key + ".")]
        if not hits:
            if any(p.lower() == key for p in complex_paths):
                if strict:
                    raise QueryError(f"column {name} is an array or map; statistics skip such "
                                     "columns", sqlstate="0A000")
                continue
            raise QueryError(f"column {name} does not exist in the table", sqlstate="42703")
        chosen += [h for h in hits if h not in chosen]
    return chosen


def _query(table: str, leaves: list[tuple[str, pa.DataType]],
           condition: exp.Expression | None) -> exp.Select:
    projections: list[exp.Expr] = [exp.alias_(exp.Count(this=exp.Star()), "n")]
    for i, (path, dtype) in enumerate(leaves):
        col = _column(path)
        projections += [
            exp.alias_(exp.Count(this=col.copy()), f"c_{i}"),
            exp.alias_(exp.Count(this=exp.Distinct(expressions=[col.copy()])), f"d_{i}"),
            exp.alias_(_text(exp.Min(this=col.copy())), f"lo_{i}"),
            exp.alias_(_text(exp.Max(this=col.copy())), f"hi_{i}"),
        ]
        if _numeric(dtype):
            number = exp.Cast(this=col.copy(), to=exp.DataType.build("DOUBLE"))
            projections += [exp.alias_(exp.Avg(this=number.copy()), f"m_{i}"),
                            exp.alias_(exp.StddevSamp(this=number), f"s_{i}")]
    query = exp.select(*projections).from_(exp.to_table(table).as_("__t"))
    return query.where(condition) if condition is not None else query


def _column(path: str) -> exp.Expression:
    parts = path.split(".")
    node: exp.Expression = exp.column(parts[0], table="__t", quoted=True)
    return exp.Dot.build([node, *(exp.to_identifier(p, quoted=True) for p in parts[1:])]) \
        if len(parts) > 1 else node


def _text(node: exp.Expression) -> exp.Expression:
    return exp.Cast(this=node, to=exp.DataType.build("STRING", dialect="spark"))


def _numeric(dtype: pa.DataType) -> bool:
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or \
        pa.types.is_decimal(dtype)


def _row(i: int, path: str, dtype: pa.DataType, agg: dict[str, Any]) -> dict[str, Any]:
    count = agg[f"c_{i}"]
    return {"columnName": path, "dataType": str(dtype), "count": count,
            "distinctCount": agg[f"d_{i}"], "nullCount": agg["n"] - count,
            "min": agg[f"lo_{i}"], "max": agg[f"hi_{i}"], "mean": agg.get(f"m_{i}"),
            "standardDeviation": agg.get(f"s_{i}")}


def _arrow(columns: Columns) -> pa.Schema:
    types = {"STRING": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64()}
    return pa.schema([(name, types[t]) for name, t in columns])
