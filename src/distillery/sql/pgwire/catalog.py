"""The emulated PostgreSQL catalog of one database name (`prod:all`, `prod:events`).

A private in-memory DuckDB database holds pg_catalog and information_schema tables describing
the sandbox's datasets (every dataset for `{sandbox}:all`, one for `{sandbox}:{table}`), with
the same PostgreSQL types their columns are sent as. It is refreshed when the datasets change
and answers the queries `catalog_rewrite` prepares. This database never sees dataset rows: it
is metadata only, so it is not an engine of the Query Service.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from distillery.sql.pgwire import catalog_schema as cs
from distillery.sql.pgwire import pgtypes
from distillery.sql.pgwire.catalog_rewrite import (
    CATALOG_SCHEMA,
    INFO_SCHEMA,
    SessionInfo,
    compile_for_duckdb,
    output_names,
    rewrite,
)

log = logging.getLogger(__name__)
_FIRST_TABLE_OID = 16384
_PG_CLASS_OID = 1259


@dataclass(frozen=True)
class TableInfo:
    """A dataset as the catalog describes it."""

    name: str
    schema: pa.Schema
    description: str = ""
    key: str = ""  # dataset id: keeps the table's OID stable across refreshes
    kind: str = "r"  # pg_class.relkind: r table (dataset), v view


@dataclass(frozen=True)
class CatalogContent:
    """Everything the emulated catalog lists."""

    database: str
    databases: tuple[str, ...]
    roles: tuple[str, ...]
    tables: tuple[TableInfo, ...]

    @property
    def fingerprint(self) -> tuple[Any, ...]:
        """What, if it changes, requires rebuilding the catalog tables."""
        return (self.databases, self.roles,
                tuple((t.key, t.name, t.kind, t.description, str(t.schema))
                      for t in self.tables))


class CatalogEmulator:
    """pg_catalog and information_schema for one database name, in a private DuckDB."""

    def __init__(self) -> None:
        self._con = duckdb.connect()
        self._lock = threading.Lock()
        self._fingerprint: tuple[Any, ...] | None = None
        self._oids: dict[str, int] = {}
        self._create()

    def _create(self) -> None:
        con = self._con
        con.execute(f"CREATE SCHEMA {CATALOG_SCHEMA}; CREATE SCHEMA {INFO_SCHEMA}")
        for name, columns in cs.PG_CATALOG.items():
            con.execute(f"CREATE TABLE {CATALOG_SCHEMA}.{name} ({columns})")
        for name, columns in cs.INFORMATION_SCHEMA.items():
            con.execute(f"CREATE TABLE {INFO_SCHEMA}.{name} ({columns})")
        for macro in cs.MACROS:
            con.execute(macro)
        for name, query in cs.PG_CATALOG_VIEWS.items():
            con.execute(f"CREATE VIEW {CATALOG_SCHEMA}.{name} AS {query}")
        for name, rows in cs.FIXED_ROWS.items():
            self._insert(f"{CATALOG_SCHEMA}.{name}", rows)
        self._insert(f"{CATALOG_SCHEMA}.pg_type", cs.type_rows())
        self._insert(f"{CATALOG_SCHEMA}._type_names", cs.type_name_rows())

    def _insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            self._con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)

    def refresh(self, content: CatalogContent) -> None:
        """Describe `content`, unless it is what the catalog describes already."""
        with self._lock:
            if content.fingerprint == self._fingerprint:
                return
            self._con.execute("BEGIN")
            for table in ("pg_class", "pg_attribute", "pg_description", "pg_database",
                          "pg_roles", "pg_user"):
                self._con.execute(f"DELETE FROM {CATALOG_SCHEMA}.{table}")
            for table in ("tables", "columns", "schemata"):
                self._con.execute(f"DELETE FROM {INFO_SCHEMA}.{table}")
            self._fill(content)
            self._con.execute("COMMIT")
            self._fingerprint = content.fingerprint

    def _fill(self, content: CatalogContent) -> None:
        for table in content.tables:
            oid = self._oids.setdefault(table.key or table.name,
                                        _FIRST_TABLE_OID + len(self._oids))
            self._insert(f"{CATALOG_SCHEMA}.pg_class", [_class_row(oid, table)])
            self._insert(f"{CATALOG_SCHEMA}.pg_attribute", _attribute_rows(oid, table))
            self._insert(f"{INFO_SCHEMA}.tables", [_info_table_row(content.database, table)])
            self._insert(f"{INFO_SCHEMA}.columns", _info_column_rows(content.database, table))
            if table.description:
                self._insert(f"{CATALOG_SCHEMA}.pg_description",
                             [(oid, _PG_CLASS_OID, 0, table.description)])
        self._insert(f"{CATALOG_SCHEMA}.pg_database", [
            (16000 + i, name, cs.OWNER_OID, 6, "c", False, True, -1, 0, 0, 1663, "C", "C",
             None, None, None, None) for i, name in enumerate(content.databases)])
        self._insert(f"{CATALOG_SCHEMA}.pg_roles", [
            (cs.OWNER_OID + i, name, False, True, False, False, True, False, -1, "********",
             None, False, None) for i, name in enumerate(content.roles)])
        self._insert(f"{CATALOG_SCHEMA}.pg_user", [
            (name, cs.OWNER_OID + i, False, False, False, False, "********", None, None)
            for i, name in enumerate(content.roles)])
        self._insert(f"{INFO_SCHEMA}.schemata", [
            (content.database, schema, "distillery", None, None, None, None)
            for schema in ("public", "pg_catalog", "information_schema")])

    def set_activity(self, rows: list[tuple[Any, ...]]) -> None:
        """Replace pg_stat_activity's rows (the server's connections right now)."""
        with self._lock:
            self._con.execute(f"DELETE FROM {CATALOG_SCHEMA}.pg_stat_activity")
            self._insert(f"{CATALOG_SCHEMA}.pg_stat_activity", rows)

    def query(self, expr: exp.Query, session: SessionInfo, params: list[Any]) -> pa.Table:
        """Run a catalog query (as parsed from the client) and return its rows."""
        rewritten = rewrite(expr, session)
        sql = compile_for_duckdb(rewritten)
        with self._lock:
            try:
                table = self._con.sql(sql, params=params or None).to_arrow_table()
            except duckdb.Error as exc:
                # psql's describe footers read what Distillery does not model (publications,
                # partitions); an empty answer is the truthful one and keeps psql going.
                log.debug("catalog query answered empty (%s): %s", exc, sql)
                table = _empty_like(expr)
        names = output_names(expr)
        if names is not None and len(names) == table.num_columns:
            table = table.rename_columns(names)
        for effect in session.effects:
            effect()
        session.effects.clear()
        return table


def _empty_like(expr: exp.Query) -> pa.Table:
    names = output_names(expr) or ["?column?"]
    return pa.table({name: pa.array([], pa.string()) for name in dict.fromkeys(names)})


def _pg_type(field: pa.Field) -> pgtypes.ColumnType:
    return pgtypes.column_type(field.type, json_nested=True)


def _class_row(oid: int, table: TableInfo) -> tuple[Any, ...]:
    am = cs.HEAP_AM_OID if table.kind == "r" else 0
    return (oid, table.name, cs.PUBLIC_OID, 0, 0, cs.OWNER_OID, am, oid, 0, 0,
            -1.0, 0, 0, False, False, "p", table.kind, len(table.schema), 0, False, False,
            False, False, False, True, "d", False, 0, 0, 0, None, None, None)


def _attribute_rows(oid: int, table: TableInfo) -> list[tuple[Any, ...]]:
    rows = []
    for position, field in enumerate(table.schema, start=1):
        kind = _pg_type(field)
        size = kind.size
        collation = cs.DEFAULT_COLLATION_OID if kind.oid in (pgtypes.TEXT,
                                                              pgtypes.VARCHAR) else 0
        rows.append((oid, field.name, kind.oid, -1, size, position, 0, -1, kind.typmod,
                     0 < size <= 8, "i", "p" if size > 0 else "x", "", not field.nullable,
                     False, False, "", "", False, True, 0, collation, None, None, None, None))
    return rows


def _info_table_row(database: str, table: TableInfo) -> tuple[Any, ...]:
    kind = "BASE TABLE" if table.kind == "r" else "VIEW"
    return (database, "public", table.name, kind, None, None, None, None, None, "YES", "NO",
            None)


_NUMERIC_PRECISION = {pgtypes.INT2: (16, 2, 0), pgtypes.INT4: (32, 2, 0),
                      pgtypes.INT8: (64, 2, 0), pgtypes.FLOAT4: (24, 2, None),
                      pgtypes.FLOAT8: (53, 2, None)}


def _info_column_rows(database: str, table: TableInfo) -> list[tuple[Any, ...]]:
    rows = []
    for position, field in enumerate(table.schema, start=1):
        kind = _pg_type(field)
        known = pgtypes.TYPES.get(kind.oid)
        precision, radix, scale = _NUMERIC_PRECISION.get(kind.oid, (None, None, None))
        if kind.oid == pgtypes.NUMERIC and kind.typmod >= 4:
            precision, radix, scale = (kind.typmod - 4) >> 16, 10, (kind.typmod - 4) & 0xFFFF
        timed = 6 if kind.oid in (pgtypes.TIMESTAMP, pgtypes.TIMESTAMPTZ, pgtypes.TIME) else (
            0 if kind.oid == pgtypes.DATE else None)
        rows.append((database, "public", table.name, field.name, position, None,
                     "YES" if field.nullable else "NO",
                     known.display if known else "text", None, None, precision, radix, scale,
                     timed, None, None, database, "pg_catalog",
                     known.typname if known else "text", "NO", "NEVER", "YES", str(position),
                     None))
    return rows
