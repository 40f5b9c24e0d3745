"""Small catalog answers (history_meta, sample_meta, statistics) as inline SQL tables.

The rows are few (one per batch, sample or column), so they travel inside the statement as a
typed `VALUES` list built with SQLGlot, which every engine understands; no temporary table
has to be registered, and a query can join or filter them like any table.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlglot import exp

Columns = list[tuple[str, str]]  # (name, SQL type as Spark spells it)


def literal(value: Any, sql_type: str) -> exp.Expression:
    """One typed SQL value."""
    if value is None:
        node: exp.Expression = exp.null()
    elif isinstance(value, bool):
        node = exp.Boolean(this=value)
    elif isinstance(value, int | float):
        node = exp.Literal.number(value)
    elif isinstance(value, datetime | date):
        node = exp.Literal.string(value.isoformat())
    else:
        node = exp.Literal.string(str(value))
    return exp.Cast(this=node, to=exp.DataType.build(sql_type, dialect="spark"))


def inline_table(rows: list[dict[str, Any]], columns: Columns, alias: str) -> exp.Expression:
    """A FROM-clause table holding `rows` with `columns`, named `alias`."""
    table_alias = exp.TableAlias(this=exp.to_identifier(alias),
                                 columns=[exp.to_identifier(c) for c, _ in columns])
    if rows:
        tuples = [exp.Tuple(expressions=[literal(r.get(c), t) for c, t in columns])
                  for r in rows]
        return exp.Values(expressions=tuples, alias=table_alias)
    empty = exp.select(*[exp.alias_(literal(None, t), c) for c, t in columns]).where(exp.false())
    return exp.Subquery(this=empty, alias=exp.TableAlias(this=exp.to_identifier(alias)))

