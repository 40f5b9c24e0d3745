"""Bring your own data: a schema and a column mapping for files you already have.

`plan()` reads a sample of the first file, infers column types, and builds a schema of the
class asked for: ad hoc (the file's columns as they are), ExperienceEvent (a timestamp, an
event type and an identity column mapped onto the class's fields) or Individual Profile (an
identity column). The returned mapping renames source columns to schema fields at ingestion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from distillery.errors import SchemaError
from distillery.lake import xdm
from distillery.lake.readers import detect_format
from distillery.lake.schema import FieldGroup, IdentityDescriptor, Schema, field_from_arrow
from distillery.lake.validate import nest_dotted

_SAMPLE_BYTES = 4 << 20


@dataclass(frozen=True)
class Plan:
    """A schema for the files and the mapping from their columns to its fields."""

    schema: Schema
    mapping: dict[str, str]


def sample_schema(path: Path, file_format: str | None = None) -> pa.Schema:
    """Column names and inferred types from the start of a file."""
    fmt = detect_format(path, file_format)
    try:
        if fmt == "parquet":
            return pq.read_schema(path)
        if fmt == "csv":
            delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
            reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=_SAMPLE_BYTES),
                                    parse_options=pacsv.ParseOptions(delimiter=delimiter))
            return reader.schema
        with path.open("rb") as fh:
            head = fh.read(_SAMPLE_BYTES)
        head = head[: head.rfind(b"\n") + 1] or head
        return pajson.read_json(pa.BufferReader(head)).schema
    except (pa.ArrowInvalid, OSError) as exc:
        raise SchemaError(f"cannot infer a schema from {path}: {exc}") from exc


def plan(path: Path, title: str, cls: str = "adhoc", *, identity: dict[str, str] | None = None,
         timestamp: str | None = None, event_type: str | None = None,
         mapping: dict[str, str] | None = None, tenant: str = "tenant",
         file_format: str | None = None) -> Plan:
    """A schema of class `cls` for files shaped like `path`, and the column mapping to it.

    Args:
        path: A sample file (the first of those to ingest).
        title: The schema's title.
        cls: "adhoc", "event" or "profile".
        identity: Identity columns and their namespaces, e.g. {"email": "Email"}; the first is
            the primary identity.
        timestamp: For events, the column holding the event time.
        event_type: For events, the column holding the event type.
        mapping: Further renames, source column -> field path.
        tenant: The tenant id (unused for now; kept so schemas carry it).
        file_format: The format, when the suffix does not say.
    """
    columns = sample_schema(path, file_format)
    renames = dict(mapping or {})
    identity = identity or {}
    for col in [*identity, *(c for c in (timestamp, event_type) if c), *renames]:
        if col not in columns.names:
            raise SchemaError(f"column {col!r} is not in {path} (columns: {columns.names})")
    if cls == "event":
        if not timestamp:
            raise SchemaError("an event dataset needs --timestamp COL (the event time)")
        renames[timestamp] = "timestamp"
        if event_type:
            renames[event_type] = "eventType"
    if cls in ("event", "profile") and not identity:
        raise SchemaError(f"a {cls} dataset needs --identity COL=NAMESPACE (its primary identity)")
    class_group = {"event": xdm.EXPERIENCE_EVENT_CLASS, "profile": xdm.PROFILE_CLASS}.get(cls)
    own = {f.name for f in class_group.fields} if class_group else set()
    renamed = pa.schema([f.with_name(renames.get(f.name, f.name)) for f in columns
                         if renames.get(f.name, f.name) not in own])
    nested = nest_dotted(renamed.empty_table()).schema
    fields = tuple(field_from_arrow(f) for f in nested)
    groups = ((class_group,) if class_group else ()) + (FieldGroup("columns", fields),)
    idents = tuple(IdentityDescriptor(renames.get(col, col), ns, primary=i == 0)
                   for i, (col, ns) in enumerate(identity.items()))
    schema = Schema(title=title, cls=cls, field_groups=groups, identities=idents, tenant=tenant)
    full = {c: renames.get(c, c) for c in columns.names}
    return Plan(schema, full if renames else {})
