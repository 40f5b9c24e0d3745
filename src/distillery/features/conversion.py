"""Conversion definitions: event types, or a SQL condition checked to be an expression over
event columns.

A condition is Spark SQL text (`eventType = 'web.formFilledOut'`,
`commerce.order.priceTotal > 100`). It is parsed with SQLGlot and refused unless it is one
true/false expression over the events dataset's fields: no statements, subqueries, aggregates,
window functions, parameters or functions SQLGlot does not know (which could reach files or the
environment on some engine). The parsed tree, with its columns qualified, is what queries embed;
the text is never pasted into SQL.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from distillery.features.errors import FeatureError
from distillery.features.sqltree import Params, path
from distillery.lake.catalog import DatasetRecord

OPTION = "--conversion"
_REFUSED: tuple[tuple[type[exp.Expr], str], ...] = (
    (exp.Query, "a query"),
    (exp.Subquery, "a subquery"),
    (exp.Exists, "a subquery"),
    (exp.Table, "a table"),
    (exp.AggFunc, "an aggregate function"),
    (exp.Window, "a window function"),
    (exp.Placeholder, "a parameter"),
    (exp.Parameter, "a parameter"),
    (exp.SessionParameter, "a session variable"),
    (exp.Anonymous, "an unknown function"),
    (exp.Star, "*"),
    (exp.Command, "a command"),
)
_BOOLEAN_TOPS = (exp.Predicate, exp.Connector, exp.Not, exp.Boolean, exp.Xor, exp.Func)


def parse_condition(text: str) -> exp.Expr:
    """Parse a conversion condition and check its shape (not yet its columns).

    Raises:
        FeatureError: the text is not exactly one true/false expression of the allowed kind.
    """
    if not text or not text.strip():
        raise FeatureError(f"the conversion condition ({OPTION}) is empty")
    try:
        trees = [t for t in sqlglot.parse(text, read="spark") if t is not None]
    except ParseError as exc:
        first = exc.errors[0]["description"] if exc.errors else str(exc)
        raise FeatureError(f"the conversion condition ({OPTION}) {text!r} is not valid SQL: "
                           f"{first}") from None
    if len(trees) != 1:
        raise FeatureError(f"the conversion condition ({OPTION}) must be one expression, got "
                           f"{len(trees)} statements in {text!r}")
    tree = trees[0]
    for node in tree.walk():
        for kind, words in _REFUSED:
            if isinstance(node, kind):
                raise FeatureError(f"the conversion condition ({OPTION}) {text!r} contains "
                                   f"{words} ({node.sql('spark')[:60]!r}); it must be an "
                                   "expression over event columns")
    top = tree.unnest()
    if not isinstance(top, _BOOLEAN_TOPS):
        raise FeatureError(f"the conversion condition ({OPTION}) {text!r} is not a true/false "
                           "condition (e.g. eventType = 'web.formFilledOut')")
    return tree


def column_path(node: exp.Expression) -> str | None:
    """The dotted field path a column reference names (`commerce.order.priceTotal`), following
    struct access (`Dot`) above it; None when the node is not such a reference."""
    if isinstance(node, exp.Column):
        return ".".join(p.name for p in node.parts)
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Identifier):
        base = column_path(node.this)
        return f"{base}.{node.expression.name}" if base else None
    return None


def qualify(tree: exp.Expr, dataset: DatasetRecord, alias: str) -> exp.Expression:
    """A copy of a parsed condition whose columns are fields of `dataset`, qualified by `alias`.

    Raises:
        FeatureError: a column is not a field of the dataset.
    """
    fields = dict(dataset.schema.leaves())
    tops = sorted(p for p in fields if "." not in p)

    def check(dotted: str, whole: bool) -> None:
        known = dotted in fields if whole else dotted.split(".")[0] in tops
        if not known:
            raise FeatureError(f"the conversion condition ({OPTION}) names {dotted!r}, which is "
                               f"not a field of dataset {dataset.name!r} (top-level fields: "
                               f"{', '.join(tops)})")

    def rewrite(node: exp.Expression) -> exp.Expression:
        dotted = column_path(node)
        if dotted is None or (isinstance(node.parent, exp.Dot) and column_path(node.parent)):
            return node  # not a field reference, or part of a longer one handled above it
        # A reference under map or array access ([...]) is checked by its top-level field.
        check(dotted, whole=not isinstance(node.parent, exp.Bracket))
        return path(dotted, alias)

    return tree.copy().transform(rewrite)


def event_type_condition(event_type_field: str, types: list[str], alias: str,
                         params: Params) -> exp.Expression:
    """`eventType IN (...)` with every type bound as a parameter."""
    if not types:
        raise FeatureError(f"the conversion needs at least one event type ({OPTION})")
    return exp.In(this=path(event_type_field, alias),
                  expressions=[params(t, "conv") for t in types])
