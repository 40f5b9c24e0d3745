"""The Arrow schemas of the generated tables, and fitting built columns to them.

Events and profiles take their schemas from the lake's XDM definitions, so a batch needs no
casting at ingestion; fields the generator does not fill (e.g. `commerce`) become nulls. The
ground-truth tables are ad hoc and defined here.
"""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from distillery.errors import SchemaError

TIMESTAMP = pa.timestamp("us", tz="UTC")

TRUTH_EVENTS = pa.schema([
    pa.field("_id", pa.string(), nullable=False),
    pa.field("userid", pa.string(), nullable=False),
    pa.field("timestamp", TIMESTAMP, nullable=False),
    pa.field("eventType", pa.string(), nullable=False),
    pa.field("subscriptionPropensity", pa.float64(), nullable=False),
])

TRUTH_USERS = pa.schema([
    pa.field("userid", pa.string(), nullable=False),
    pa.field("user_index", pa.int64(), nullable=False),
    pa.field("converted", pa.bool_(), nullable=False),
    pa.field("converted_at", TIMESTAMP),
])


@lru_cache(maxsize=16)
def event_schema(tenant: str) -> pa.Schema:
    """The ExperienceEvent dataset's Arrow schema for `tenant`."""
    from distillery.lake.xdm import experience_event_schema

    return experience_event_schema(tenant).to_arrow()


@lru_cache(maxsize=16)
def profile_schema(tenant: str) -> pa.Schema:
    """The Individual Profile dataset's Arrow schema for `tenant`."""
    from distillery.lake.xdm import profile_schema as xdm_profile_schema

    return xdm_profile_schema(tenant).to_arrow()


def conform(columns: dict[str, pa.Array], schema: pa.Schema, rows: int) -> pa.Table:
    """A table of exactly `schema` from built columns.

    Struct fields the columns lack are filled with nulls, and leaves are cast where the types
    differ only in representation. A column or struct field the schema does not know is an
    error: it means the generator and the lake's schema disagree.

    Args:
        columns: Top-level columns by name.
        schema: The target schema.
        rows: The number of rows (for columns that are entirely missing).
    """
    unknown = set(columns) - set(schema.names)
    if unknown:
        raise SchemaError(f"generated columns {sorted(unknown)} are not in the schema")
    arrays = [_fit(columns.get(f.name), f.type, rows, f.name) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _fit(array: pa.Array | None, kind: pa.DataType, rows: int, path: str) -> pa.Array:
    if array is None:
        return pa.nulls(rows, kind)
    if array.type == kind:
        return array
    if pa.types.is_struct(kind) and pa.types.is_struct(array.type):
        names = {array.type.field(i).name for i in range(array.type.num_fields)}
        wanted = {kind.field(i).name for i in range(kind.num_fields)}
        if names - wanted:
            raise SchemaError(f"generated fields {sorted(names - wanted)} of {path!r} are not "
                              f"in the schema")
        children = [
            _fit(array.field(f.name) if f.name in names else None, f.type, rows,
                 f"{path}.{f.name}")
            for f in kind
        ]
        mask = pc.invert(array.is_valid()) if array.null_count else None
        return pa.StructArray.from_arrays(children, fields=list(kind), mask=mask)
    try:
        return array.cast(kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(f"generated {path!r} of type {array.type} does not fit the "
                          f"schema's {kind}: {exc}") from exc
