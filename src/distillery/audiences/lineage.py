"""Column lineage of a SELECT, read from its SQLGlot tree: which source fields each output
column is computed from, and which fields shape the whole result (filters, joins, grouping).

It serves label propagation (`lake.labels.propagate`). A query it cannot follow (subqueries,
CTEs, set operations, tables that are not datasets) gets no lineage, which makes propagation
put every source label on the whole result: the safe answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from distillery.lake.catalog import DatasetRecord
from distillery.lake.labels import ALL_FIELDS

if TYPE_CHECKING:
    from distillery.platform import Platform

Lineage = dict[str, list[tuple[str, str]]]


def query_lineage(platform: Platform, query: str) -> tuple[list[DatasetRecord], Lineage | None]:
    """The datasets a query reads and its column lineage (None when it cannot be followed)."""
    try:
        tree = sqlglot.parse_one(query, read="spark")
    except ParseError:
        return [], None
    tables = list(tree.find_all(exp.Table))
    found = {t: platform.catalog.find_dataset(t.name) for t in tables}
    sources = list({d.id: d for d in found.values() if d is not None}.values())
    simple = (isinstance(tree, exp.Select) and not tree.args.get("with")
              and not any(True for _ in tree.find_all(exp.Subquery))
              and all(d is not None for d in found.values()))
    if not simple or not isinstance(tree, exp.Select):
        return sources, None
    aliases = {t.alias_or_name.lower(): d for t, d in found.items() if d is not None}
    return sources, _lineage(tree, aliases)


def _lineage(select: exp.Select, aliases: dict[str, DatasetRecord]) -> Lineage | None:
    out: Lineage = {}
    inside: set[int] = set()
    names = {e.alias_or_name for e in select.expressions}
    for projection in select.expressions:
        if isinstance(projection, exp.Star):
            for ds in aliases.values():
                for f in ds.schema.fields:
                    out.setdefault(f.name, []).append((ds.id, f.name))
            continue
        refs = out.setdefault(projection.alias_or_name, [])
        for col in projection.find_all(exp.Column):
            inside.add(id(col))
            ref = _resolve(col, aliases)
            if ref is None:
                return None
            refs.append(ref)
    for col in select.find_all(exp.Column):
        if id(col) in inside or (col.name in names and not col.table):
            continue
        ref = _resolve(col, aliases)
        if ref is None:
            return None
        out.setdefault(ALL_FIELDS, []).append(ref)
    return out


def _resolve(col: exp.Column, aliases: dict[str, DatasetRecord]) -> tuple[str, str] | None:
    parts = [p.name for p in col.parts]
    node: exp.Expr = col
    while isinstance(node.parent, exp.Dot) and node.parent.this is node:
        node = node.parent
        parts.append(node.expression.name)
    if len(parts) > 1 and parts[0].lower() in aliases:
        ds, path = aliases[parts[0].lower()], parts[1:]
    else:
        owners = [d for d in aliases.values()
                  if parts[0].lower() in {f.name.lower() for f in d.schema.fields}]
        if len(owners) != 1:
            return None
        ds, path = owners[0], parts
    known = {p.lower(): p for p, _ in ds.schema.leaves()}
    for end in range(len(path), 0, -1):
        hit = known.get(".".join(path[:end]).lower())
        if hit is not None:
            return ds.id, hit
    return None
