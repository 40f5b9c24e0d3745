"""Small helpers to build SQLGlot trees and run them on the platform's engine.

The feature queries are written once as SQLGlot expression trees and compiled to the engine's
dialect (`platform.engine.DIALECT`) at run time, so another engine gets the same semantics
from the same tree. Every value Distillery supplies (cutoffs, event types, seeds) is a bound
parameter; identifiers are quoted by SQLGlot.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from distillery.errors import DistilleryError
from distillery.features.errors import FeatureError
from distillery.lake.catalog import DatasetRecord

if TYPE_CHECKING:
    from distillery.platform import Platform


class Params:
    """The bound parameters of one query: each value gets a placeholder of its own."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any, hint: str = "p") -> exp.Placeholder:
        """A placeholder bound to `value`."""
        name = f"{hint}_{len(self.values)}"
        self.values[name] = value
        return exp.Placeholder(this=name)

    def used_by(self, tree: exp.Expression) -> dict[str, Any]:
        """The values `tree` refers to (engines refuse parameters a query does not use)."""
        names = {p.name for p in tree.find_all(exp.Placeholder)}
        return {k: v for k, v in self.values.items() if k in names}


def ident(name: str) -> exp.Identifier:
    """A quoted identifier."""
    return exp.to_identifier(name, quoted=True)


def col(name: str, table: str | None = None) -> exp.Column:
    """A quoted column reference, optionally qualified by a table alias."""
    return exp.column(name, table=table, quoted=True)


def path(dotted: str, table: str | None = None) -> exp.Expression:
    """A field by dotted path (`_tenant.userid`), as struct access on a column."""
    first, *rest = dotted.split(".")
    node: exp.Expression = col(first, table)
    for part in rest:
        node = exp.Dot(this=node, expression=ident(part))
    return node


def micros_of(value: exp.Expression) -> exp.Expression:
    """Microseconds since the epoch of a timestamp (exact on every engine)."""
    return exp.UnixMicros(this=value)


def as_double(value: exp.Expression) -> exp.Expression:
    """CAST(value AS DOUBLE): keeps divisions in floating point on every engine (Spark would
    otherwise make a decimal of an integer divided by a decimal literal)."""
    return exp.Cast(this=value, to=exp.DataType.build("double"))


def filtered(agg: exp.Expression, condition: exp.Expression | None) -> exp.Expression:
    """`agg FILTER (WHERE condition)`, or `agg` alone when there is no condition."""
    if condition is None:
        return agg
    return exp.Filter(this=agg, expression=exp.Where(this=condition))


def in_bucket(person: exp.Expression, bucket: int, buckets: int) -> exp.Expression:
    """The condition ((hash(person) % K) + K) % K = bucket, which splits people into K buckets.

    Every engine has `hash`; Spark's is a signed 32-bit value (hence the + K) and DuckDB's
    an unsigned 64-bit one. Only the split depends on it: each person lands in one bucket on
    any engine, whichever dataset the person id is read from.
    """
    k = exp.Literal.number(buckets)
    hashed = exp.Anonymous(this="hash", expressions=[person])
    position = exp.Mod(this=exp.Paren(this=exp.Add(
        this=exp.Paren(this=exp.Mod(this=hashed, expression=k)), expression=k.copy())),
        expression=k.copy())
    return exp.EQ(this=position, expression=exp.Literal.number(bucket))


def compile_sql(platform: Platform, tree: exp.Expression) -> str:
    """The tree as SQL text of the platform's engine dialect."""
    return tree.sql(dialect=platform.engine.DIALECT)


def reader(platform: Platform, tree: exp.Expression, params: Params, what: str,
           batch_size: int = 100_000) -> pa.RecordBatchReader:
    """Run a query tree on the platform's engine and stream its rows.

    Args:
        platform: The platform whose engine runs the query.
        tree: The query.
        params: Its bound parameters.
        what: What the query computes, for error messages (e.g. "features of dataset 'x'").
        batch_size: Rows per record batch.

    Raises:
        FeatureError: the engine refused or failed the query.
    """
    sql = compile_sql(platform, tree)
    try:
        return platform.engine.reader(sql, params.used_by(tree) or None, batch_size)
    except DistilleryError:
        raise
    except Exception as exc:  # the engine boundary: each engine raises its own error types
        raise FeatureError(f"computing {what} failed: {platform.sql.translate(exc)}") from exc


def arrow(platform: Platform, tree: exp.Expression, params: Params, what: str) -> pa.Table:
    """Run a query tree and return all its rows as one Arrow table."""
    # One large batch: NumPy then reads the columns without concatenating chunks.
    rows = reader(platform, tree, params, what, batch_size=16_000_000)
    try:
        return rows.read_all()
    except DistilleryError:
        raise
    except Exception as exc:
        raise FeatureError(f"computing {what} failed: {platform.sql.translate(exc)}") from exc


@contextmanager
def served(platform: Platform, dataset: DatasetRecord, version: int | None = None,
           files: list[str] | None = None) -> Iterator[exp.Expression]:
    """A table expression reading one snapshot of a dataset (or an explicit subset of its
    files), valid for the duration of the block; alias it with `aliased`.

    Reading a fixed snapshot pins it: a batch landing meanwhile does not change what the
    queries of one training set read, and the snapshot id can be recorded with it. Engines
    that can scan files in a FROM clause (`scan`) do so; otherwise, and for a snapshot with no
    files, the files are served under a private table name for the block.
    """
    chosen = platform.lake.files(dataset, version) if files is None else files
    scan = getattr(platform.engine, "scan", None)
    if chosen and scan is not None:
        yield scan(chosen)
        return
    name = f"_features_{uuid.uuid4().hex[:12]}"
    platform.engine.register(name, chosen, dataset.schema.to_arrow())
    try:
        yield exp.Table(this=ident(name))
    finally:
        platform.engine.unregister(name)


def aliased(table_expression: exp.Expression, alias: str) -> exp.Expression:
    """A copy of a table expression from `served`, aliased for a FROM clause."""
    node = table_expression.copy()
    if not isinstance(node, exp.Table):
        node = exp.Table(this=node)  # a table function (a file scan)
    node.set("alias", exp.TableAlias(this=ident(alias)))
    return node
