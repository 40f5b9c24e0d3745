"""One client's session: its statements routed to the right place, and its protocol state.

Every statement a client sends goes one of three ways:

- a session command (transactions, SET/SHOW, PREPARE/EXECUTE, cursors, EXPLAIN) is handled
  by this package (`commands.py`);
- a catalog query (pg_catalog, information_schema, `version()`) is answered by the emulated
  catalog of the database the client connected to;
- anything else goes to the Query Service, re-spelled for Spark with its `$n` parameters bound
  as values, in a Query Service session whose `read_only` flag follows the user's role.

The methods are synchronous and may block on the engine: the connection runs them in worker
threads, so one long query never stalls the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlglot import exp

from distillery.errors import QueryError
from distillery.sql.pgwire import commands, lexer, params
from distillery.sql.pgwire.catalog import CatalogContent, CatalogEmulator
from distillery.sql.pgwire.catalog_rewrite import SessionInfo, parse_catalog_query
from distillery.sql.pgwire.encode import EncodeOptions
from distillery.sql.pgwire.results import Cursor, RowStream, WireResult
from distillery.sql.pgwire.settings import Settings
from distillery.sql.result import Result
from distillery.sql.service import QueryService


@dataclass
class Prepared:
    """A prepared statement: its text (PostgreSQL syntax) and parameter types."""

    sql: str
    param_oids: list[int]
    described: tuple[pa.Schema | None] | None = None


@dataclass
class Portal:
    """A prepared statement bound to values, run on first Describe or Execute."""

    statement: Prepared
    values: list[Any]
    formats: list[int]
    result: WireResult | None = None
    stream: RowStream | None = None
    options: EncodeOptions = field(default_factory=EncodeOptions)


@dataclass(frozen=True)
class Identity:
    """Who is connected to what."""

    user: str
    role: str
    database: str
    pid: int
    version: str
    started: str


class WireSession:
    """The state and statements of one connection."""

    def __init__(self, service: QueryService, catalog: CatalogEmulator,
                 catalog_content: Callable[[], CatalogContent], identity: Identity,
                 batch_rows: int = 50_000,
                 activity: Callable[[], list[tuple[Any, ...]]] | None = None) -> None:
        self.service = service
        self.identity = identity
        self.qs = service.session()
        self.qs.read_only = identity.role == "read-only"
        self.settings = Settings(identity.user, self.qs.read_only, self.qs.settings)
        self.batch_rows = batch_rows
        self.tx = "I"  # I idle, T in a transaction block, E in a failed one
        self.statements: dict[str, Prepared] = {}
        self.portals: dict[str, Portal] = {}
        self.cursors: dict[str, Cursor] = {}
        self._catalog = catalog
        self._catalog_content = catalog_content
        self._activity = activity or list
        self._cancel = threading.Event()

    # Statements -------------------------------------------------------------------------------

    def run(self, sql: str, values: list[Any] | None = None) -> list[WireResult]:
        """Run one statement (PostgreSQL syntax) with its `$n` values."""
        values = values or []
        command = commands.match(sql)
        if self.tx == "E" and (command is None or not command.ends_transaction):
            raise QueryError("current transaction is aborted, commands ignored until end of "
                             "transaction block", sqlstate="25P02")
        if command is not None:
            return command.run(self, values)
        catalog = parse_catalog_query(sql)
        if catalog is not None:
            return [self.catalog_query(catalog, values)]
        return self.service_query(sql, values)

    def service_query(self, sql: str, values: list[Any]) -> list[WireResult]:
        """Run a statement in the Query Service."""
        results = self.service.execute(lexer.to_spark(sql), self.bind_values(sql, values),
                                       self.qs)
        return [self._wire(r) for r in results]

    def bind_values(self, sql: str, values: list[Any]) -> dict[str, Any] | None:
        """The Query Service's named parameters for the `$n` placeholders of `sql`."""
        numbers = lexer.param_numbers(sql)
        missing = [n for n in numbers if n > len(values)]
        if missing:
            raise QueryError(f"there is no parameter ${missing[0]}", sqlstate="42P02")
        return {lexer.param_name(n): values[n - 1] for n in numbers} or None

    def _wire(self, result: Result) -> WireResult:
        if result.has_rows:
            return WireResult.of_reader(result.reader(self.batch_rows))
        return WireResult.message(result.status or "OK")

    def catalog_query(self, expr: Any, values: list[Any], *, effects: bool = True
                      ) -> WireResult:
        """Answer a pg_catalog / information_schema / session-function query."""
        self._catalog.refresh(self._catalog_content())
        if any(t.name.lower() == "pg_stat_activity" for t in expr.find_all(exp.Table)):
            self._catalog.set_activity(self._activity())
        info = self.session_info()
        table = self._catalog.query(expr, info, values)
        if not effects:
            info.effects.clear()
        result = WireResult.of_table(table)
        result.catalog = True
        return result

    def session_info(self) -> SessionInfo:
        """What session functions (`current_user`, `current_setting`) see."""
        ident = self.identity
        return SessionInfo(ident.user, ident.database, ident.version, ident.pid,
                           self.settings.get, self.set_setting, ident.started)

    def set_setting(self, name: str, value: str | None) -> dict[str, str]:
        """SET one setting: PostgreSQL's here, any other in the Query Service session."""
        if self.settings.owns(name):
            return self.settings.set(name, value)
        key = Settings.normalise(name)
        if value is None:
            self.qs.settings.pop(key, None)
        else:
            self.qs.settings[key] = value
        return {}

    # Protocol state ---------------------------------------------------------------------------

    def stream(self, result: WireResult) -> RowStream:
        """The rows of `result`, checking for a cancel request between batches."""
        return RowStream(result, self._cancel.is_set)

    def encode_options(self, result: WireResult | None = None) -> EncodeOptions:
        """How values are written under the current settings.

        Nested values are JSON text declared `json` (drivers decode them). With
        `auto_to_json = true` the Query Service itself turns them into strings first, which
        go out as `text`, as AEP sends them. Catalog results keep PostgreSQL arrays.
        """
        return EncodeOptions(timezone=self.settings.get("timezone") or "UTC",
                             pg_arrays=result is not None and result.catalog)

    def begin_statement(self) -> None:
        """A new statement starts: an earlier cancel request no longer applies."""
        self._cancel.clear()

    def cancel(self) -> None:
        """Interrupt whatever runs now (called from another thread)."""
        self._cancel.set()
        self.qs.interrupt()

    def failed(self) -> None:
        """A statement failed: an open transaction block is now aborted."""
        if self.tx == "T":
            self.tx = "E"

    def parse(self, name: str, sql: str, oids: list[int]) -> None:
        """Parse: store a prepared statement (nothing runs)."""
        statements = lexer.split(sql)
        if len(statements) > 1:
            raise QueryError("cannot insert multiple commands into a prepared statement",
                             sqlstate="42601")
        if name and name in self.statements:
            raise QueryError(f'prepared statement "{name}" already exists', sqlstate="42P05")
        text = statements[0] if statements else ""
        count = max(lexer.param_numbers(text), default=0)
        count = max(count, len(oids))
        self.statements[name] = Prepared(text, list(oids) + [0] * (count - len(oids)))

    def statement(self, name: str) -> Prepared:
        """A prepared statement by name."""
        if name not in self.statements:
            raise QueryError(f'prepared statement "{name}" does not exist', sqlstate="26000")
        return self.statements[name]

    def bind(self, portal: str, name: str, formats: list[int], raw: list[bytes | None],
             result_formats: list[int]) -> None:
        """Bind: values decoded by their declared types, kept with the result formats."""
        statement = self.statement(name)
        if len(formats) not in (0, 1, len(raw)):
            raise QueryError(f"bind message has {len(formats)} parameter formats but "
                             f"{len(raw)} parameters", sqlstate="08P01")
        if len(raw) != len(statement.param_oids):
            raise QueryError(f"bind message supplies {len(raw)} parameters, but prepared "
                             f"statement \"{name}\" requires {len(statement.param_oids)}",
                             sqlstate="08P01")
        values = [params.decode(value, statement.param_oids[i], _format(formats, i))
                  for i, value in enumerate(raw)]
        self.close_portal(portal)
        self.portals[portal] = Portal(statement, values, result_formats, None, None,
                                      self.encode_options())

    def portal(self, name: str) -> Portal:
        """A bound portal by name."""
        if name not in self.portals:
            raise QueryError(f'portal "{name}" does not exist', sqlstate="34000")
        return self.portals[name]

    def start_portal(self, name: str) -> Portal:
        """Run the portal's statement unless it ran already."""
        portal = self.portal(name)
        if portal.result is None:
            results = self.run(portal.statement.sql, portal.values) if portal.statement.sql \
                else [WireResult.message("")]
            with_rows = [r for r in results if r.has_rows]
            portal.result = with_rows[-1] if with_rows else results[-1]
            portal.stream = self.stream(portal.result)
        return portal

    def describe_statement(self, name: str) -> pa.Schema | None:
        """The columns a prepared statement will return, found without side effects."""
        statement = self.statement(name)
        if statement.described is None:
            statement.described = (commands.preview_schema(self, statement),)
        return statement.described[0]

    def close_portal(self, name: str) -> None:
        """Close a portal and release its rows."""
        portal = self.portals.pop(name, None)
        if portal is not None and portal.stream is not None:
            portal.stream.close()

    def sync(self) -> None:
        """End of an extended-protocol cycle: outside a transaction block, portals end."""
        if self.tx == "I":
            for name in list(self.portals):
                self.close_portal(name)

    def close(self) -> None:
        """The connection ends: release every open result."""
        for name in list(self.portals):
            self.close_portal(name)
        for cursor in self.cursors.values():
            cursor.stream.close()
        self.cursors.clear()


def _format(codes: list[int], index: int) -> int:
    if not codes:
        return 0
    return codes[0] if len(codes) == 1 else codes[index]
