"""The fields of a table in the Query Service, by dotted path, for checking rules and options.

Any table works (a dataset, or whatever the Query Service serves under that name): the fields
come from the dataset's schema when it is one, else from the table's result columns.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from distillery.audiences.errors import AudienceError
from distillery.errors import QueryError
from distillery.lake.catalog import DatasetRecord

if TYPE_CHECKING:
    from distillery.platform import Platform


@dataclass(frozen=True)
class TableFields:
    """A table's name, its dataset (when it is one) and the type of every field path."""

    table: str
    types: dict[str, pa.DataType]
    dataset: DatasetRecord | None = None
    _lower: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._lower.update({p.lower(): p for p in self.types})

    def has(self, path: str) -> bool:
        """Whether the table has the field (case-insensitive, as the engine reads it)."""
        return path.lower() in self._lower

    def resolve(self, path: str, what: str = "field") -> str:
        """The field's path as the table spells it; AudienceError names close matches."""
        if path in self.types:
            return path
        found = self._lower.get(path.lower())
        if found is not None:
            return found
        close = difflib.get_close_matches(path, list(self.types), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise AudienceError(f"{what} {path!r} is not a field of table {self.table!r}{hint}")

    def type_of(self, path: str) -> pa.DataType:
        """The Arrow type of a field (see `resolve`)."""
        return self.types[self.resolve(path)]

    def leaves(self) -> list[str]:
        """Paths of the fields that are not structs."""
        return [p for p, t in self.types.items() if not pa.types.is_struct(t)]


def table_fields(platform: Platform, table: str) -> TableFields:
    """The fields of `table` (a dataset name, id or table name, or any Query Service table).

    Raises:
        AudienceError: the table does not exist.
    """
    ds = platform.catalog.find_dataset(table)
    if ds is not None:
        return TableFields(ds.table_name, _paths(ds.schema.to_arrow()), ds)
    query = exp.select("*").from_(exp.to_table(table)).limit(0)
    try:
        result = platform.sql.select(platform.sql.session(), query)
        schema = result.reader().schema
    except QueryError as exc:
        raise AudienceError(f"table {table!r} does not exist in sandbox "
                            f"{platform.sandbox!r} ({exc})") from None
    return TableFields(table, _paths(schema))


def _paths(schema: pa.Schema) -> dict[str, pa.DataType]:
    out: dict[str, pa.DataType] = {}

    def visit(prefix: str, f: pa.Field) -> None:
        path = f"{prefix}{f.name}"
        out[path] = f.type
        if pa.types.is_struct(f.type):
            for child in f.type:
                visit(path + ".", child)

    for f in schema:
        visit("", f)
    return out


def path_expr(alias: str | None, path: str) -> exp.Expr:
    """A SQLGlot column for a dotted field path under a table alias, every part quoted."""
    parts = path.split(".")
    node: exp.Expr = exp.Column(
        this=exp.to_identifier(parts[0], quoted=True),
        table=exp.to_identifier(alias, quoted=True) if alias else None)
    for part in parts[1:]:
        node = exp.Dot(this=node, expression=exp.to_identifier(part, quoted=True))
    return node


def kind_of(t: pa.DataType) -> str:
    """A coarse kind for type checks: number, string, boolean, time, date, nested, other."""
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_timestamp(t):
        return "time"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_nested(t):
        return "nested"
    return "other"
