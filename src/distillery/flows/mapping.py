"""Mappings from source columns to schema fields, with simple expressions.

    {"_tenant.propensity": "prediction",              # a column, renamed
     "_tenant.score100": "prediction * 100",          # arithmetic
     "eventType": "'web.formFilledOut'"}              # a constant

Keys are schema field paths; values are Spark SQL expressions limited to column references,
literals, arithmetic, comparisons, CASE and a few functions. They are parsed with SQLGlot,
checked node by node against that list (never `eval`), and run by DuckDB over each chunk of
rows. Type conversion is the batch's job: a bare column passes through unchanged, so text
from a CSV is parsed into the field's type by batch validation, row by row.

Text columns used as numbers (`prediction * 100` over a CSV) are cast with TRY_CAST; a cell
that does not parse gives the field the text `prediction=<cell>`, so batch validation rejects
that row with a diagnostic naming the column and value, instead of a silent NULL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from distillery.errors import DistilleryError, SchemaError

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ARROW_RULE = re.compile(r"^(?P<expr>.+?)\s*->\s*(?P<field>[A-Za-z0-9_.]+)\s*$", re.DOTALL)
_ALLOWED: tuple[type[exp.Expression], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Neg,
    exp.Not, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.IntDiv, exp.DPipe, exp.Concat,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.And, exp.Or, exp.Is, exp.In,
    exp.Case, exp.If, exp.Cast, exp.TryCast, exp.DataType, exp.DataTypeParam, exp.Coalesce,
    exp.Nullif, exp.Upper, exp.Lower, exp.Trim, exp.Substring, exp.Length, exp.Round,
    exp.Abs, exp.Floor, exp.Ceil, exp.Greatest, exp.Least, exp.CurrentTimestamp,
    exp.CurrentDate, exp.Dot,
)
# Where a text column is used as a number.
_NUMERIC_CONTEXT = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.IntDiv, exp.Neg, exp.Round,
                    exp.Abs, exp.Floor, exp.Ceil)


class MappingError(DistilleryError, ValueError):
    """A mapping names an invalid field or holds an expression that is not allowed."""


class MissingColumnError(SchemaError):
    """A mapping uses a column the input lacks (the batch fails with SCHEMA_MISMATCH)."""


@dataclass(frozen=True)
class Rule:
    """One field and the expression that fills it."""

    field: str
    text: str
    tree: exp.Expr

    @property
    def source(self) -> str | None:
        """The column name when the expression is a bare column, else None."""
        if isinstance(self.tree, exp.Column) and not self.tree.table:
            return self.tree.name
        return None

    def columns(self) -> list[str]:
        """The source columns the expression reads."""
        return sorted({_column_name(c) for c in self.tree.find_all(exp.Column)})


class Mapping:
    """A checked mapping; `apply` turns a chunk of source rows into field columns."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.rules = [_rule(f, text) for f, text in fields.items()]

    def __bool__(self) -> bool:
        return bool(self.rules)

    def as_dict(self) -> dict[str, str]:
        """Field -> expression text, as saved in a dataflow's spec."""
        return {r.field: r.text for r in self.rules}

    def renames(self) -> dict[str, str] | None:
        """Source -> field when every rule is a bare column read once (the batch's own
        rename mapping then applies, with its file-level diagnostics); else None."""
        sources = [r.source for r in self.rules]
        if any(s is None for s in sources) or len(set(sources)) != len(sources):
            return None
        return {r.source: r.field for r in self.rules if r.source is not None}

    def apply(self, table: pa.Table, source: str) -> pa.Table:
        """Evaluate every rule over `table` (one chunk of the file `source`)."""
        available = set(table.column_names)
        for rule in self.rules:
            missing = [c for c in rule.columns() if c.split(".")[0] not in available]
            if missing:
                raise MissingColumnError(
                    f"mapping of field {rule.field!r} ({rule.text!r}) reads column(s) {missing}, "
                    f"which {source} lacks (it has {sorted(available)})")
        selects = [_select(rule, table.schema) for rule in self.rules]
        sql = f"SELECT {', '.join(selects)} FROM src"
        con = duckdb.connect()
        try:
            con.register("src", table)
            return con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise MissingColumnError(f"mapping cannot be applied to {source}: {exc}") from None
        finally:
            con.close()


def parse_rules(lines: list[str]) -> dict[str, str]:
    """CLI rules `EXPRESSION -> FIELD` (the reference's notation) as field -> expression."""
    out: dict[str, str] = {}
    for line in lines:
        m = _ARROW_RULE.match(line.strip())
        if not m:
            raise MappingError(f"mapping rule {line!r} must read 'EXPRESSION -> FIELD', e.g. "
                               "'prediction -> _tenant.propensity'")
        if m["field"] in out:
            raise MappingError(f"field {m['field']!r} is mapped twice")
        out[m["field"]] = m["expr"].strip()
    return out


def _rule(field: str, text: str) -> Rule:
    if not _FIELD.match(field):
        raise MappingError(f"mapping target {field!r} is not a field path (letters, digits, "
                           "'_', parts joined by '.')")
    if not isinstance(text, str) or not text.strip():
        raise MappingError(f"mapping of field {field!r} has an empty expression")
    try:
        tree = sqlglot.parse_one(text, read="spark")
    except ParseError as exc:
        raise MappingError(f"mapping of field {field!r}: cannot parse {text!r}: "
                           f"{str(exc).splitlines()[0]}") from None
    for node in tree.walk():
        if not isinstance(node, _ALLOWED):
            name = node.sql("spark") if isinstance(node, exp.Func) else type(node).__name__
            raise MappingError(f"mapping of field {field!r}: {name!r} is not allowed in "
                               f"{text!r}; use columns, literals, arithmetic, comparisons, "
                               "CASE, CAST and simple functions")
    return Rule(field, text, tree)


def _column_name(col: exp.Column) -> str:
    return ".".join(p.name for p in col.parts)


def _select(rule: Rule, schema: pa.Schema) -> str:
    tree = rule.tree.copy()
    text_operands: list[str] = []
    for col in list(tree.find_all(exp.Column)):
        name = _column_name(col)
        if not isinstance(col.parent, _NUMERIC_CONTEXT) or name not in schema.names \
                or not pa.types.is_string(schema.field(name).type):
            continue
        text_operands.append(name)
        col.replace(exp.TryCast(this=col.copy(), to=exp.DataType.build("double")))
    target = exp.to_identifier(rule.field, quoted=True).sql("duckdb")
    body = tree.sql("duckdb")
    if not text_operands:
        return f"{body} AS {target}"
    cases = []
    for name in dict.fromkeys(text_operands):
        q = exp.column(name, quoted=True).sql("duckdb")
        cases.append(f"WHEN {q} IS NOT NULL AND TRY_CAST({q} AS DOUBLE) IS NULL "
                     f"THEN {exp.Literal.string(name + '=').sql('duckdb')} || {q}")
    return f"CASE {' '.join(cases)} ELSE CAST({body} AS VARCHAR) END AS {target}"
