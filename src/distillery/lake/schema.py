"""Schemas: XDM classes, field groups and identity descriptors, mapped to Arrow.

A `Schema` is a class ("profile", "event" or "adhoc") plus field groups. Each field group adds
fields; fields nest (a struct is a field with children). Identity descriptors mark fields as
identities of a namespace. `Schema.to_arrow()` gives the Arrow schema every batch is cast to.

Schemas round-trip through plain dicts, so they load from JSON or YAML files:

    title: Loyalty events
    class: event
    tenant: acme
    field_groups:
      - name: purchases
        fields:
          - {name: _acme, type: struct, fields: [{name: orderTotal, type: double}]}
    identities:
      - {path: _acme.userid, namespace: ECID, primary: true}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from distillery.errors import SchemaError

CLASSES = ("profile", "event", "adhoc")

_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "long": pa.int64(),
    "short": pa.int16(),
    "byte": pa.int8(),
    "float": pa.float32(),
    "double": pa.float64(),
    "number": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date-time": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True)
class Field:
    """One field of a schema.

    Args:
        name: The field's name at its level (not the dotted path).
        type: A scalar type name (string, boolean, int, long, double, date, timestamp, ...),
            "struct" (with `fields`), "array" (with `items`) or "map" (string keys, `values`).
        required: Rows where the field is null are rejected.
        enum: Allowed values, if restricted.
        fields: Children of a struct.
        items: The element field of an array.
        values: The value field of a map.
        description: Free text for humans.
    """

    name: str
    type: str
    required: bool = False
    enum: tuple[Any, ...] | None = None
    fields: tuple[Field, ...] = ()
    items: Field | None = None
    values: Field | None = None
    description: str = ""

    def arrow_type(self) -> pa.DataType:
        """The Arrow type this field stores as."""
        if self.type == "struct":
            return pa.struct([f.to_arrow() for f in self.fields])
        if self.type == "array":
            if self.items is None:
                raise SchemaError(f"array field {self.name!r} has no items")
            return pa.list_(self.items.arrow_type())
        if self.type == "map":
            if self.values is None:
                raise SchemaError(f"map field {self.name!r} has no values")
            return pa.map_(pa.string(), self.values.arrow_type())
        try:
            return _SCALARS[self.type]
        except KeyError:
            raise SchemaError(
                f"field {self.name!r} has unknown type {self.type!r}; "
                f"use one of {sorted(_SCALARS)} or struct, array, map"
            ) from None

    def to_arrow(self) -> pa.Field:
        """The Arrow field, nullable unless required."""
        return pa.field(self.name, self.arrow_type(), nullable=not self.required)

    def to_dict(self) -> dict[str, Any]:
        """A plain-dict form for JSON/YAML."""
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.required:
            out["required"] = True
        if self.enum is not None:
            out["enum"] = list(self.enum)
        if self.fields:
            out["fields"] = [f.to_dict() for f in self.fields]
        if self.items is not None:
            out["items"] = self.items.to_dict()
        if self.values is not None:
            out["values"] = self.values.to_dict()
        if self.description:
            out["description"] = self.description
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Field:
        """Build a field from its dict form, with a clear error on a malformed entry."""
        if not isinstance(data, dict) or "name" not in data or "type" not in data:
            raise SchemaError(f"a field needs 'name' and 'type', got {data!r}")
        unknown = set(data) - {"name", "type", "required", "enum", "fields", "items", "values",
                               "description"}
        if unknown:
            raise SchemaError(f"field {data['name']!r} has unknown keys {sorted(unknown)}")
        made = cls(
            name=str(data["name"]),
            type=str(data["type"]),
            required=bool(data.get("required", False)),
            enum=tuple(data["enum"]) if data.get("enum") is not None else None,
            fields=tuple(cls.from_dict(f) for f in data.get("fields", ())),
            items=cls.from_dict(data["items"]) if data.get("items") else None,
            values=cls.from_dict(data["values"]) if data.get("values") else None,
            description=str(data.get("description", "")),
        )
        made.arrow_type()  # fail now on an unknown type, naming the field
        return made


@dataclass(frozen=True)
class FieldGroup:
    """A named set of fields that a schema adds (XDM "field group")."""

    name: str
    fields: tuple[Field, ...]
    description: str = ""


@dataclass(frozen=True)
class IdentityDescriptor:
    """Marks the field at `path` (dotted) as an identity in `namespace`."""

    path: str
    namespace: str
    primary: bool = False


@dataclass(frozen=True)
class Schema:
    """An XDM schema: a class, field groups and identity descriptors."""

    title: str
    cls: str
    field_groups: tuple[FieldGroup, ...]
    identities: tuple[IdentityDescriptor, ...] = ()
    tenant: str = "tenant"
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.cls not in CLASSES:
            raise SchemaError(f"schema {self.title!r}: class must be one of {CLASSES}, "
                              f"got {self.cls!r}")
        paths = {p for p, _ in self.leaves()}
        for ident in self.identities:
            if ident.path not in paths:
                raise SchemaError(f"schema {self.title!r}: identity field {ident.path!r} "
                                  f"is not a field of the schema")
        if sum(i.primary for i in self.identities) > 1:
            raise SchemaError(f"schema {self.title!r} has more than one primary identity")

    @property
    def fields(self) -> tuple[Field, ...]:
        """Top-level fields, with same-named structs from several field groups merged."""
        merged: dict[str, Field] = {}
        for group in self.field_groups:
            for f in group.fields:
                merged[f.name] = _merge(merged[f.name], f) if f.name in merged else f
        return tuple(merged.values())

    @property
    def primary_identity(self) -> IdentityDescriptor | None:
        """The primary identity descriptor, if the schema has one."""
        return next((i for i in self.identities if i.primary), None)

    def to_arrow(self) -> pa.Schema:
        """The Arrow schema of the dataset's rows."""
        return pa.schema([f.to_arrow() for f in self.fields])

    def leaves(self) -> list[tuple[str, Field]]:
        """Every field with its dotted path (structs and their children alike)."""
        out: list[tuple[str, Field]] = []

        def walk(prefix: str, fs: tuple[Field, ...]) -> None:
            for f in fs:
                path = f"{prefix}{f.name}"
                out.append((path, f))
                if f.type == "struct":
                    walk(path + ".", f.fields)

        walk("", self.fields)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A plain-dict form for JSON/YAML."""
        return {
            "title": self.title,
            "class": self.cls,
            "tenant": self.tenant,
            "description": self.description,
            "field_groups": [
                {"name": g.name, "description": g.description,
                 "fields": [f.to_dict() for f in g.fields]}
                for g in self.field_groups
            ],
            "identities": [
                {"path": i.path, "namespace": i.namespace, "primary": i.primary}
                for i in self.identities
            ],
        }

    def to_json(self) -> str:
        """JSON text of `to_dict()`."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        """Build a schema from its dict form (as found in a JSON or YAML file)."""
        if not isinstance(data, dict):
            raise SchemaError("a schema must be a mapping")
        missing = {"title", "class"} - set(data)
        if missing:
            raise SchemaError(f"schema is missing {sorted(missing)}")
        groups = []
        for g in data.get("field_groups", ()):
            if "name" not in g:
                raise SchemaError(f"schema {data['title']!r}: a field group needs a name")
            groups.append(FieldGroup(
                name=g["name"], description=g.get("description", ""),
                fields=tuple(Field.from_dict(f) for f in g.get("fields", ())),
            ))
        idents = tuple(
            IdentityDescriptor(i["path"], i["namespace"], bool(i.get("primary", False)))
            for i in data.get("identities", ())
        )
        return cls(title=data["title"], cls=data["class"], field_groups=tuple(groups),
                   identities=idents, tenant=data.get("tenant", "tenant"),
                   description=data.get("description", ""))

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        """Load a schema from a .json, .yaml or .yml file."""
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as exc:
            raise SchemaError(f"cannot read schema file {p}: {exc}") from exc
        try:
            data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise SchemaError(f"schema file {p} is not valid {p.suffix[1:] or 'YAML'}: "
                              f"{exc}") from exc
        return cls.from_dict(data)


def _merge(a: Field, b: Field) -> Field:
    """Merge two same-named struct fields from different field groups."""
    if a.type != "struct" or b.type != "struct":
        if a == b:
            return a
        raise SchemaError(f"field {a.name!r} is defined twice with different types")
    children: dict[str, Field] = {f.name: f for f in a.fields}
    for f in b.fields:
        children[f.name] = _merge(children[f.name], f) if f.name in children else f
    return Field(a.name, "struct", a.required or b.required, fields=tuple(children.values()),
                 description=a.description or b.description)


def field_from_arrow(f: pa.Field) -> Field:
    """The schema field for an Arrow field (used to infer ad-hoc schemas)."""
    t = f.type
    if pa.types.is_struct(t):
        return Field(f.name, "struct", fields=tuple(field_from_arrow(t.field(i))
                                                    for i in range(t.num_fields)))
    if pa.types.is_map(t):
        return Field(f.name, "map", values=field_from_arrow(pa.field("value", t.item_type)))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return Field(f.name, "array", items=field_from_arrow(pa.field("item", t.value_type)))
    if pa.types.is_timestamp(t):
        return Field(f.name, "timestamp")
    if pa.types.is_date(t):
        return Field(f.name, "date")
    if pa.types.is_boolean(t):
        return Field(f.name, "boolean")
    if pa.types.is_integer(t):
        return Field(f.name, "long")
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return Field(f.name, "double")
    if pa.types.is_null(t):
        return Field(f.name, "string")
    return Field(f.name, "string")


def infer_schema(arrow_schema: pa.Schema, title: str, cls: str = "adhoc",
                 identities: tuple[IdentityDescriptor, ...] = ()) -> Schema:
    """An ad-hoc schema whose fields are those of `arrow_schema` (bring-your-own data)."""
    group = FieldGroup("inferred", tuple(field_from_arrow(f) for f in arrow_schema))
    return Schema(title=title, cls=cls, field_groups=(group,), identities=identities)
