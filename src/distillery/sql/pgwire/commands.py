"""Which statements are session commands, and what a prepared statement will return.

Session commands are recognised by their leading keywords (PostgreSQL's grammar for them is
small and fixed). Anything not matched here is a query for the catalog or the Query Service;
in particular `SET @v = ...`, `SHOW TABLES` and `$$ ... $$` blocks pass through.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from distillery.errors import QueryError
from distillery.sql.pgwire import cmd_session as s
from distillery.sql.pgwire import cmd_sql as q
from distillery.sql.pgwire import lexer
from distillery.sql.pgwire.catalog_rewrite import parse_catalog_query
from distillery.sql.pgwire.results import WireResult

if TYPE_CHECKING:
    from distillery.sql.pgwire.session import Prepared, WireSession

Handler = Callable[["WireSession", "re.Match[str]", list[Any]], list[WireResult]]
_SET = r"^SET\s+(?:SESSION\s+|LOCAL\s+)?"
_ROWS = r"(?P<direction>NEXT|PRIOR|FIRST|LAST|ALL|ABSOLUTE\s+[-+]?\d+|RELATIVE\s+[-+]?\d+|" \
        r"FORWARD(?:\s+(?:ALL|[-+]?\d+))?|BACKWARD(?:\s+(?:ALL|[-+]?\d+))?|[-+]?\d+)"

_TABLE: list[tuple[str, str, Handler, bool]] = [
    ("begin", r"^(?:BEGIN|START\s+TRANSACTION)\b", s.begin, False),
    ("prepared_tx", r"^(?:PREPARE\s+TRANSACTION|COMMIT\s+PREPARED|ROLLBACK\s+PREPARED)\b",
     s.unsupported, False),
    ("commit", r"^(?:COMMIT|END)\b", s.commit, True),
    ("rollback_to", r"^ROLLBACK\s+(?:WORK\s+|TRANSACTION\s+)?TO\b", s.rollback_to, True),
    ("rollback", r"^(?:ROLLBACK|ABORT)\b", s.rollback, True),
    ("savepoint", r"^(?:SAVEPOINT|RELEASE)\b", s.savepoint, False),
    ("set_time_zone", _SET + r"TIME\s+ZONE\s+(?P<value>.+)$", s.set_time_zone, False),
    ("set_transaction", _SET + r"(?:CHARACTERISTICS\s+AS\s+)?TRANSACTION\b", s.set_noop, False),
    ("set_role", _SET + r"(?:ROLE|SESSION\s+AUTHORIZATION)\s+(?P<value>.+)$", s.set_role,
     False),
    ("set", _SET + r"(?P<name>[A-Za-z_][\w.]*|\"[^\"]+\")\s*(?:=|\s+TO\s+)\s*(?P<value>.+)$",
     s.set_setting, False),
    ("reset", r"^RESET\s+(?P<name>ALL|TIME\s+ZONE|ROLE|SESSION\s+AUTHORIZATION|"
              r"[A-Za-z_][\w.]*)$", s.reset, False),
    ("show", r"^SHOW\s+(?P<name>.+)$", s.show, False),
    ("discard", r"^DISCARD\s+(?P<what>ALL|PLANS|SEQUENCES|TEMP|TEMPORARY)$", s.discard, False),
    ("prepare", rf"^PREPARE\s+(?P<name>{q.NAME})\s*(?:\((?P<types>[^)]*)\))?\s*AS\s+"
                r"(?P<statement>.+)$", q.prepare, False),
    ("execute", rf"^EXECUTE\s+(?P<name>{q.NAME})\s*(?:\((?P<args>.*)\))?$", q.execute, False),
    ("deallocate", rf"^DEALLOCATE\s+(?:PREPARE\s+)?(?P<name>{q.NAME})$", q.deallocate, False),
    ("declare", rf"^DECLARE\s+(?P<name>{q.NAME})\s+(?P<options>(?:(?:BINARY|ASENSITIVE|"
                r"INSENSITIVE|NO|SCROLL)\s+)*)CURSOR\s+(?:(?P<hold>WITH|WITHOUT)\s+HOLD\s+)?"
                r"FOR\s+(?P<query>.+)$", q.declare, False),
    ("fetch", rf"^FETCH\s+(?:{_ROWS}\s+)?(?:(?:FROM|IN)\s+)?(?P<name>{q.NAME})$", q.fetch, False),
    ("move", rf"^MOVE\s+(?:{_ROWS}\s+)?(?:(?:FROM|IN)\s+)?(?P<name>{q.NAME})$", q.move, False),
    ("close", rf"^CLOSE\s+(?P<name>{q.NAME})$", q.close, False),
    ("explain", r"^EXPLAIN\s+(?:\((?P<options>[^)]*)\)\s*)?(?P<analyze>ANALY[SZ]E\s+)?"
                r"(?:VERBOSE\s+)?(?P<query>.+)$", q.explain, False),
    ("unsupported", r"^(?:COPY|LISTEN|UNLISTEN|NOTIFY|LOCK|VACUUM|CHECKPOINT|CLUSTER|"
                    r"REINDEX|DO)\b", s.unsupported, False),
]
_COMPILED = [(kind, re.compile(p, re.IGNORECASE | re.DOTALL), handler, ends)
             for kind, p, handler, ends in _TABLE]


@dataclass(frozen=True)
class Command:
    """A session command matched in a statement."""

    kind: str
    found: re.Match[str]
    handler: Handler
    ends_transaction: bool

    def run(self, session: WireSession, values: list[Any]) -> list[WireResult]:
        """Carry the command out."""
        return self.handler(session, self.found, values)


def match(sql: str) -> Command | None:
    """The session command `sql` is, or None for a query."""
    text = lexer.strip_comments(sql)
    for kind, pattern, handler, ends in _COMPILED:
        found = pattern.match(text)
        if found:
            return Command(kind, found, handler, ends)
    return None


# What a prepared statement returns, without running it ---------------------------------------

_READS = re.compile(r"^\s*(?:SHOW|DESCRIBE|DESC)\b", re.IGNORECASE)


def preview_schema(session: WireSession, statement: Prepared) -> pa.Schema | None:
    """The columns `statement` will return (None: no rows), without side effects."""
    if not statement.sql:
        return None
    nulls = [None] * len(statement.param_oids)
    command = match(statement.sql)
    if command is not None:
        return _command_schema(session, command, nulls)
    catalog = parse_catalog_query(statement.sql)
    if catalog is not None:
        return session.catalog_query(catalog, nulls, effects=False).schema
    return _service_schema(session, statement.sql, nulls)


def _command_schema(session: WireSession, command: Command, nulls: list[Any]
                    ) -> pa.Schema | None:
    if command.kind == "show":
        name = " ".join(command.found.group("name").split())
        if name.upper() == "ALL":
            return pa.schema([("name", pa.string()), ("setting", pa.string())])
        if session.settings.get(name) is not None:
            return pa.schema([(s.session_column_name(name), pa.string())])
        return _service_schema(session, command.found.group(0), nulls)
    if command.kind == "explain":
        return pa.schema([("QUERY PLAN", pa.string())])
    if command.kind == "fetch":
        cursor = session.cursors.get(q.unquote(command.found.group("name")))
        return cursor.schema if cursor is not None else None
    if command.kind == "execute":
        return session.describe_statement(q.unquote(command.found.group("name")))
    return None


def _service_schema(session: WireSession, sql: str, nulls: list[Any]) -> pa.Schema | None:
    spark = lexer.to_spark(sql)
    service = session.service
    bound = session.bind_values(sql, nulls)
    try:
        statements = service.parse(spark)
    except QueryError:
        return None  # a Data Distiller statement SQLGlot cannot parse: it returns no rows
    if len(statements) == 1 and isinstance(statements[0], exp.Query):
        try:
            # LIMIT 0 lets the engine answer from the plan alone.
            wrapped = f"SELECT * FROM ({spark}) AS __pgwire_describe LIMIT 0"
            return service.execute(wrapped, bound, session.qs)[-1].reader().schema
        except QueryError:
            return service.execute(spark, bound, session.qs)[-1].reader().schema
    if _READS.match(spark):
        results = service.execute(spark, bound, session.qs)
        return results[-1].reader().schema if results[-1].has_rows else None
    return None
