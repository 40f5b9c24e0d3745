"""SQL audiences: members selected by a query and kept in a dataset named after the audience.

The primary identity column is a top-level column of the query; its other columns must be
flat (strings, numbers, booleans, times) and become attributes that destinations can export.
Every change (create, insert, overwrite) writes the dataset as one batch and then evaluates
the audience, so memberships say who entered and who exited.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from distillery.audiences import evaluation
from distillery.audiences.definitions import check_name, check_ttl
from distillery.audiences.errors import AudienceError
from distillery.audiences.lineage import query_lineage
from distillery.audiences.store import AudienceRecord, AudienceStore, JobRecord
from distillery.errors import AlreadyExistsError
from distillery.lake import labels
from distillery.lake.catalog import now_iso

if TYPE_CHECKING:
    from distillery.platform import Platform
    from distillery.sql.service import Session


def create(platform: Platform, store: AudienceStore, name: str, query: str, *,
           primary_identity: str, identity_namespace: str,
           ttl_days: int | str | None = None,
           description: str = "", params: dict[str, Any] | None = None,
           session: Session | None = None) -> tuple[AudienceRecord, JobRecord]:
    """Create a SQL audience from a SELECT and evaluate it (see module docs)."""
    check_name(name)
    if not primary_identity:
        raise AudienceError(f"audience {name!r}: option primary_identity is required")
    if not identity_namespace:
        raise AudienceError(f"audience {name!r}: option identity_namespace is required")
    table = name.lower()
    if platform.catalog.find_dataset(name) or platform.catalog.find_dataset(table):
        raise AlreadyExistsError(f"a dataset named {table!r} exists; an audience's members "
                                 "are kept in a dataset of the audience's name, so choose "
                                 "another audience name")
    reader = select_rows(platform, query, params, session)
    identity, attributes = check_columns(name, reader.schema, primary_identity)
    stamp = now_iso()
    rec = AudienceRecord(id=uuid.uuid4().hex[:24], name=name, kind="sql", expression=query,
                         source=table, identity=identity, namespace=identity_namespace,
                         description=description, ttl_days=check_ttl(ttl_days),
                         options={"attributes": attributes}, created_at=stamp,
                         updated_at=stamp)
    try:
        platform.lake.write(name, reader, mode="create", table_name=table,
                            tags={"audience": rec.id}, error_threshold=0.0,
                            description=description or f"Members of audience {name}")
        propagate_labels(platform, query, table)
        store.add(rec)
    except Exception:
        if platform.catalog.find_dataset(table) is not None and store.find(rec.id) is None:
            platform.drop_dataset(table)
        raise
    return rec, evaluation.evaluate(platform, rec, trigger="sql")


def insert(platform: Platform, audience: AudienceRecord, query: str, *, overwrite: bool,
           params: dict[str, Any] | None = None, session: Session | None = None) -> JobRecord:
    """Add members to a SQL audience, or replace them (`overwrite`), then evaluate it."""
    ds = platform.dataset(audience.source)
    reader = select_rows(platform, query, params, session)
    check_columns(audience.name, reader.schema, audience.identity)
    known = {f.name.lower() for f in ds.schema.fields}
    extra = [c for c in reader.schema.names if c.lower() not in known]
    if extra:
        raise AudienceError(f"audience {audience.name!r} has no column(s) {extra}; its columns "
                            f"are {[f.name for f in ds.schema.fields]}")
    platform.lake.write(ds.id, reader, mode="overwrite" if overwrite else "append",
                        error_threshold=0.0)
    propagate_labels(platform, query, ds.table_name)
    return evaluation.evaluate(platform, audience, trigger="sql")


def select_rows(platform: Platform, query: str, params: dict[str, Any] | None,
                session: Session | None) -> pa.RecordBatchReader:
    """Run a query that must be one SELECT; stream its rows."""
    statements = platform.sql.parse(query)
    stmt = statements[0]
    if isinstance(stmt, exp.Subquery):
        stmt = stmt.this
    if len(statements) != 1 or not isinstance(stmt, exp.Query):
        raise AudienceError("an audience's members come from one SELECT query, got: "
                            f"{query.strip()[:80]!r}")
    result = platform.sql.select(session or platform.sql.session(), stmt, params)
    return result.reader()


def check_columns(name: str, schema: pa.Schema, identity: str) -> tuple[str, list[str]]:
    """The identity column as the query spells it, and the attribute columns.

    Raises:
        AudienceError: the identity is not a top-level column, or a column is not flat.
    """
    by_lower = {n.lower(): n for n in schema.names}
    found = by_lower.get(identity.lower())
    if found is None:
        raise AudienceError(f"audience {name!r}: primary_identity {identity!r} is not a "
                            f"top-level column of the query; its columns are {schema.names}")
    for f in schema:
        if pa.types.is_nested(f.type):
            raise AudienceError(f"audience {name!r}: column {f.name!r} is a {f.type}; audience "
                                "columns must be flat (select its fields, e.g. a.b AS a_b)")
    return found, [n for n in schema.names if n != found]


def propagate_labels(platform: Platform, query: str, table: str) -> None:
    """Carry the labels of the datasets the query read to the audience's dataset."""
    sources, lineage = query_lineage(platform, query)
    if not sources:
        return
    target = platform.dataset(table)
    if lineage is not None:
        names = {f.name.lower(): f.name for f in target.schema.fields}
        lineage = {(k if k == labels.ALL_FIELDS else names.get(k.lower(), k)): v
                   for k, v in lineage.items()
                   if k == labels.ALL_FIELDS or k.lower() in names}
    labels.propagate(platform.catalog, sources, target, lineage)
