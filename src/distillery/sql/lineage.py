"""Column lineage of a query over the sandbox's datasets, to carry data-usage labels
(`lake.labels.propagate`) to what CREATE TABLE AS and INSERT INTO ... SELECT write.

The query is read as written (before `rewrite`): views are expanded into their queries and
snapshot reads (`t SNAPSHOT ...`, `t VERSION AS OF n`) read as their dataset. SQLGlot then
qualifies it against the datasets' schemas: every column is bound to its source, stars are
expanded and struct access (`web.webPageDetails.name`) is told from table qualifiers. Each
output column is followed through derived tables, CTEs and set operations to the dataset fields
it is computed from; a column read anywhere else (WHERE, JOIN ... ON, GROUP BY, HAVING,
QUALIFY, ORDER BY with LIMIT, subqueries) shapes the whole result, so its labels go on the
whole target.

A query that cannot be followed (a table function, a statistics or engine table, a column
SQLGlot cannot bind) gets no lineage, and propagation puts every label of every dataset it
reads on the whole target: the safe answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope, walk_in_scope
from sqlglot.schema import MappingSchema

from distillery.lake import labels
from distillery.lake.catalog import DatasetRecord
from distillery.lake.schema import Field
from distillery.sql.preprocess import SNAPSHOT_FUNCTION

if TYPE_CHECKING:
    from distillery.sql.service import QueryService

DIALECT = "spark"
Ref = tuple[str, str]  # (dataset id, field path)
_VIEW_DEPTH = 16  # views of views deeper than this are taken as a cycle
_SHAPES_ONLY_WITH_LIMIT = ("order", "sort", "cluster", "distribute")


@dataclass
class QueryLineage:
    """What a query reads and where each of its output columns comes from.

    Attributes:
        sources: Every dataset the query reads (through views too).
        outputs: Per output column, in order, the dataset fields it is computed from; None
            when the query could not be followed.
        shaping: Dataset fields that shape the whole result (filters, joins, grouping).
    """

    sources: list[DatasetRecord]
    outputs: list[frozenset[Ref]] | None = None
    shaping: frozenset[Ref] = field(default_factory=frozenset)

    def by_column(self, columns: Sequence[str]) -> dict[str, list[Ref]] | None:
        """The lineage keyed by the target columns the outputs are written to, in order, as
        `labels.propagate` takes it; None when it is unknown."""
        if self.outputs is None or len(columns) != len(self.outputs):
            return None
        out = {name: sorted(refs) for name, refs in zip(columns, self.outputs, strict=True)}
        out[labels.ALL_FIELDS] = sorted(self.shaping)
        return out


def query_lineage(service: QueryService, query: exp.Expression) -> QueryLineage:
    """The lineage of a parsed query (see the module docstring)."""
    tree, found, followable = _read(service, query)
    if followable:
        _follow(tree, found)
    return found


def _read(service: QueryService,
          query: exp.Expression) -> tuple[exp.Expression, QueryLineage, bool]:
    """A copy of the query with views and snapshots as plain tables, the datasets it reads
    (no lineage yet), and whether lineage can follow it."""
    tree = query.copy()
    datasets = {d.table_name.lower(): d for d in service.lake.datasets()}
    views = {name.lower(): text for name, text in service.views.records().items()}
    sources: dict[str, DatasetRecord] = {}
    followable = _inline(tree, datasets, views, sources, 0)
    return tree, QueryLineage(list(sources.values())), followable


def _follow(tree: exp.Expression, found: QueryLineage) -> None:
    """Fill in `found`'s outputs and shaping fields, or leave them unknown."""
    try:
        schema = MappingSchema({d.table_name: {f.name: _sql_type(f) for f in d.schema.fields}
                                for d in found.sources}, dialect=DIALECT)
        root = build_scope(qualify(tree, schema=schema, dialect=DIALECT))
        if root is None:
            return
        tracer = _Tracer({d.table_name.lower(): d for d in found.sources})
        outputs, shaping = tracer.outputs(root), tracer.shaping(root)
    except (SqlglotError, _Unfollowable):
        return
    found.outputs, found.shaping = outputs, shaping


def carry_labels(service: QueryService, query: exp.Expression, target: DatasetRecord,
                 columns: Sequence[str]) -> dict[str, frozenset[str]]:
    """Give `target` the labels of what `query` reads (`labels.propagate`).

    Args:
        service: The Query Service the query runs in.
        query: The parsed query whose rows are written.
        target: The dataset written.
        columns: The target column each output column of the query goes to, in order.

    Returns:
        The labels the target did not have before: path ("*" for the dataset) -> labels,
        what to take back if its write fails.
    """
    tree, lineage, followable = _read(service, query)
    catalog = service.lake.catalog
    if not any(labels.has_labels(catalog, s) for s in lineage.sources):
        return {}  # the common case, and then lineage is not worth working out
    if followable:
        _follow(tree, lineage)
    before = labels.labels_for(catalog, target)
    by_column = lineage.by_column(columns)
    if by_column is not None:
        # A label can only go on a field of the target; an output column that is not one
        # (possible only with a schema option) is left out.
        known = {f.name.lower(): f.name for f in target.schema.fields}
        by_column = {(k if k == labels.ALL_FIELDS else known[k.lower()]): v
                     for k, v in by_column.items()
                     if k == labels.ALL_FIELDS or k.lower() in known}
    added = labels.propagate(catalog, lineage.sources, target, by_column)
    new = {path: marks - before.get(path, frozenset()) for path, marks in added.items()}
    return {path: marks for path, marks in new.items() if marks}


# Views and snapshots as plain tables --------------------------------------------------------


def _inline(tree: exp.Expr, datasets: dict[str, DatasetRecord], views: dict[str, str],
            sources: dict[str, DatasetRecord], depth: int) -> bool:
    """Record the datasets `tree` reads and make each read a plain table; False when a table
    is one lineage cannot follow (it may still read datasets, which are recorded)."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    followable = True
    for table in list(tree.find_all(exp.Table)):
        name = _read_name(table)
        if name is None:
            followable = False
        elif name in ctes and not isinstance(table.this, exp.Anonymous):
            continue
        elif name in datasets:
            sources.setdefault(datasets[name].id, datasets[name])
            table.replace(exp.Table(this=exp.to_identifier(datasets[name].table_name),
                                    alias=exp.TableAlias(
                                        this=exp.to_identifier(table.alias or name))))
        elif name in views and depth < _VIEW_DEPTH:
            inner = sqlglot.parse_one(views[name], read=DIALECT)
            followable &= _inline(inner, datasets, views, sources, depth + 1)
            table.replace(exp.Subquery(this=inner, alias=exp.TableAlias(
                this=exp.to_identifier(table.alias or name))))
        else:
            followable = False  # statistics, engine tables, a view cycle
    return followable


def _read_name(table: exp.Table) -> str | None:
    """The dataset or view a table reference reads, lower case; None for a table function."""
    source = table.this
    if isinstance(source, exp.Anonymous):
        args = source.expressions
        if source.name.lower() == SNAPSHOT_FUNCTION and args:
            return str(args[0].name).lower()
        return None
    return table.name.lower() if isinstance(source, exp.Identifier) else None


def _sql_type(f: Field) -> exp.DataType:
    """The type SQLGlot is told a field has. Only the shape matters for lineage (which names
    are structs, and their fields), so every scalar is told as STRING."""
    if f.type == "struct":
        children = [exp.ColumnDef(this=exp.to_identifier(c.name, quoted=True),
                                  kind=_sql_type(c)) for c in f.fields]
        return exp.DataType(this=exp.DataType.Type.STRUCT, expressions=children, nested=True)
    if f.type == "array" and f.items is not None:
        return exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[_sql_type(f.items)],
                            nested=True)
    if f.type == "map" and f.values is not None:
        return exp.DataType(this=exp.DataType.Type.MAP,
                            expressions=[exp.DataType.build("STRING"), _sql_type(f.values)],
                            nested=True)
    return exp.DataType.build("STRING")


# Following columns -----------------------------------------------------------------------------


class _Unfollowable(Exception):
    """A column whose source lineage cannot name."""


class _Tracer:
    """Follows qualified columns through scopes to dataset fields."""

    def __init__(self, tables: dict[str, DatasetRecord]) -> None:
        self.tables = tables
        self._outputs: dict[int, list[frozenset[Ref]]] = {}

    def outputs(self, scope: Scope) -> list[frozenset[Ref]]:
        """Per output column of a scope, the dataset fields it is computed from."""
        key = id(scope)
        if key not in self._outputs:
            node = scope.expression
            if isinstance(node, exp.SetOperation):
                left, right = (self.outputs(s) for s in scope.set_operation_scopes)
                if len(left) != len(right):
                    raise _Unfollowable(node.sql(DIALECT)[:80])
                self._outputs[key] = [a | b for a, b in zip(left, right, strict=True)]
            elif isinstance(node, exp.Select):
                self._outputs[key] = [self.refs(scope, p) for p in node.expressions]
            else:
                raise _Unfollowable(node.sql(DIALECT)[:80])
        return self._outputs[key]

    def refs(self, scope: Scope, node: exp.Expression) -> frozenset[Ref]:
        """The dataset fields the columns in `node` read (not counting nested queries)."""
        out: set[Ref] = set()
        for col in _columns(node):
            out |= self.column(scope, col)
        return frozenset(out)

    def column(self, scope: Scope, col: exp.Column) -> frozenset[Ref]:
        """The dataset fields one column reads."""
        owner: Scope | None = scope
        while owner is not None and col.table not in owner.sources:
            owner = owner.parent  # a correlated column belongs to an enclosing query
        if owner is None:
            return self._alias(scope, col)
        source = owner.sources[col.table]
        if isinstance(source, Scope):
            names = [n.lower() for n in _named_selects(source)]
            if col.name.lower() not in names:
                raise _Unfollowable(col.sql(DIALECT))
            return self.outputs(source)[names.index(col.name.lower())]
        ds = self.tables.get(source.name.lower()) if isinstance(source, exp.Table) else None
        if ds is None:
            raise _Unfollowable(col.sql(DIALECT))
        return frozenset({(ds.id, _field_path(ds, col))})

    def _alias(self, scope: Scope, col: exp.Column) -> frozenset[Ref]:
        """An unqualified column naming an output of its own query (ORDER BY page)."""
        node = scope.expression
        if not col.table and isinstance(node, exp.Select):
            for projection in node.expressions:
                if projection.alias_or_name.lower() == col.name.lower():
                    return self.refs(scope, projection)
        raise _Unfollowable(col.sql(DIALECT))

    def shaping(self, root: Scope) -> frozenset[Ref]:
        """Dataset fields read outside the output columns of any query in the tree, and
        everything a subquery (IN, EXISTS, a scalar subquery) reads."""
        out: set[Ref] = set()
        for scope in root.traverse():
            node = scope.expression
            if not isinstance(node, exp.Select):
                continue
            if scope.is_subquery:
                out.update(*self.outputs(scope))
            limited = bool(node.args.get("limit") or node.args.get("offset"))
            for col in _columns(node):
                clause = _clause(col, node)
                if clause == "expressions":
                    continue
                if clause in _SHAPES_ONLY_WITH_LIMIT and not limited:
                    continue  # order alone changes no value and no row
                out |= self.column(scope, col)
        return frozenset(out)


def _columns(node: exp.Expression) -> list[exp.Column]:
    """Column references in `node` outside nested queries."""
    return [n for n in walk_in_scope(node) if isinstance(n, exp.Column)]


def _clause(node: exp.Expr, select: exp.Select) -> str:
    """The argument of `select` (expressions, where, joins, group, ...) holding `node`."""
    while node.parent is not None and node.parent is not select:
        node = node.parent
    return node.arg_key or ""


def _named_selects(scope: Scope) -> list[str]:
    node = scope.expression
    if not isinstance(node, exp.Query):
        raise _Unfollowable(node.sql(DIALECT)[:80])
    return list(node.named_selects)


def _field_path(ds: DatasetRecord, col: exp.Column) -> str:
    """The dataset field a column reads: the column with the struct fields accessed under
    it, cut to the longest path the schema has (map keys and array items are not fields)."""
    parts = [col.name]
    node: exp.Expression = col
    while isinstance(node.parent, exp.Dot) and node.parent.this is node:
        node = node.parent
        parts.append(node.expression.name)
    known = {p.lower(): p for p, _ in ds.schema.leaves()}
    for end in range(len(parts), 0, -1):
        hit = known.get(".".join(parts[:end]).lower())
        if hit is not None:
            return hit
    raise _Unfollowable(col.sql(DIALECT))
