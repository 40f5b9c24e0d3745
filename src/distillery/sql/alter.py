"""`ALTER TABLE` for identities and labels, as Data Distiller writes them:

    ALTER TABLE t ADD [CONSTRAINT] PRIMARY KEY (col) NAMESPACE 'ECID'
    ALTER TABLE t ADD [CONSTRAINT] IDENTITY (col) NAMESPACE 'Email'      -- a secondary identity
    ALTER TABLE t DROP [CONSTRAINT] PRIMARY KEY (col) | IDENTITY (col)
    ALTER TABLE t ADD LABEL 'PROFILE' | DROP LABEL 'PROFILE'

A key adds an identity descriptor to the dataset's schema; labels live in the dataset record
(SHOW TABLES lists them). The PROFILE label enables the dataset for profile as soon as its
schema has a primary identity, so `CREATE TABLE t WITH (label='PROFILE') AS ...` followed by
`ALTER TABLE t ADD PRIMARY KEY (...) NAMESPACE '...'` gives a profile-enabled dataset, as in AEP.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from distillery.errors import QueryError, UnknownTableError
from distillery.lake.catalog import DatasetRecord
from distillery.lake.schema import IdentityDescriptor, Schema
from distillery.sql.errors import WrongObjectTypeError
from distillery.sql.result import Result

if TYPE_CHECKING:
    from distillery.sql.service import QueryService, Session

ALTER_PATTERN = (r"^\s*ALTER\s+TABLE\s+(?P<table>[\w.`\"]+)\s+(?P<action>ADD|DROP)\s+"
                 r"(?:CONSTRAINT\s+)?(?P<what>PRIMARY\s+KEY|IDENTITY|LABEL)\b(?P<rest>.*?)\s*;?\s*$")
_KEY = re.compile(r"^\s*\(\s*(?P<col>[^)]+?)\s*\)\s*(?:NAMESPACE\s+(?P<ns>'[^']*'|\w+))?$",
                  re.IGNORECASE)
_LABEL = re.compile(r"^\s*(?P<label>'[^']*'|\w+)$")
_LABEL_TEXT = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def run_alter(service: QueryService, session: Session, match: re.Match[str],
              params: dict[str, Any] | None) -> Result:
    """Run one ALTER TABLE identity or label statement."""
    ds = _dataset(service, match.group("table"))
    action = match.group("action").upper()
    what = re.sub(r"\s+", " ", match.group("what").upper())
    rest = match.group("rest")
    if what == "LABEL":
        labels = _change_label(ds, action, _label(rest))
        schema = ds.schema
    else:
        column, namespace = _key(rest, action, what)
        schema = _change_identity(ds, action, what == "PRIMARY KEY", column, namespace)
        labels = ds.labels
    if ds.profile_enabled and schema.primary_identity is None:
        raise QueryError(f"table {ds.table_name} is enabled for profile and needs its primary "
                         "identity; DROP LABEL 'PROFILE' first", sqlstate="42P16")
    profile = "PROFILE" in labels and schema.primary_identity is not None
    service.lake.catalog.update_dataset(ds.id, schema_json=schema.to_json(), labels=labels,
                                        profile_enabled=int(profile))
    note = " (profile waits for a primary identity: ADD PRIMARY KEY (col) NAMESPACE 'ns')" \
        if "PROFILE" in labels and not profile else ""
    return Result.message(f"ALTER TABLE{note}")


def _dataset(service: QueryService, name: str) -> DatasetRecord:
    name = name.strip('`"').split(".")[-1].strip('`"')
    ds = service.lake.catalog.find_dataset(name)
    if ds is not None:
        return ds
    if name.lower() in {v.lower() for v in service.views.names()}:
        raise WrongObjectTypeError(f"{name} is a view; identities and labels belong to tables")
    raise UnknownTableError(f"table {name} does not exist in sandbox {service.sandbox!r}; "
                            "SHOW TABLES lists what does")


def _key(rest: str, action: str, what: str) -> tuple[str, str | None]:
    found = _KEY.match(rest)
    if not found:
        raise QueryError(f"syntax error: ALTER TABLE t {action} {what} (column)"
                         + (" NAMESPACE 'ns'" if action == "ADD" else ""), sqlstate="42601")
    column = found.group("col").replace("`", "").replace('"', "")
    namespace = found.group("ns").strip("'") if found.group("ns") else None
    if action == "ADD" and not namespace:
        raise QueryError(f"ALTER TABLE ... ADD {what} ({column}) needs NAMESPACE 'ns' (ECID, "
                         "Email, ...)", sqlstate="42601")
    return column, namespace


def _label(rest: str) -> str:
    found = _LABEL.match(rest)
    label = found.group("label").strip("'") if found else ""
    if not _LABEL_TEXT.match(label):
        raise QueryError(f"a label is one word of letters, digits or '_' such as 'PROFILE', "
                         f"got {rest.strip()!r}", sqlstate="42601")
    return label.upper()


def _change_label(ds: DatasetRecord, action: str, label: str) -> list[str]:
    if action == "ADD":
        return ds.labels if label in ds.labels else [*ds.labels, label]
    if label not in ds.labels:
        raise QueryError(f"table {ds.table_name} has no label {label!r} (its labels: "
                         f"{', '.join(ds.labels) or 'none'})", sqlstate="42704")
    return [x for x in ds.labels if x != label]


def _change_identity(ds: DatasetRecord, action: str, primary: bool, column: str,
                     namespace: str | None) -> Schema:
    schema = ds.schema
    paths = {p.lower(): (p, f) for p, f in schema.leaves()}
    if column.lower() not in paths:
        raise QueryError(f"column {column} is not a field of table {ds.table_name}",
                         sqlstate="42703")
    path, fdef = paths[column.lower()]
    others = [i for i in schema.identities if i.path != path]
    current = next((i for i in schema.identities if i.path == path), None)
    if action == "DROP":
        if current is None or current.primary != primary:
            kind = "primary key" if primary else "identity"
            raise QueryError(f"column {path} of table {ds.table_name} is not its {kind}",
                             sqlstate="42704")
        return dataclasses.replace(schema, identities=tuple(others))
    if fdef.type != "string":
        raise QueryError(f"identity column {path} must be a string, it is {fdef.type}",
                         sqlstate="42804")
    existing = schema.primary_identity
    if primary and existing is not None and existing.path != path:
        raise QueryError(f"table {ds.table_name} already has primary key {existing.path} "
                         f"({existing.namespace}); DROP PRIMARY KEY ({existing.path}) first",
                         sqlstate="42P16")
    added = IdentityDescriptor(path=path, namespace=str(namespace), primary=primary)
    return dataclasses.replace(schema, identities=(*others, added))
