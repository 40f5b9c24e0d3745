"""The Query Service: Spark SQL (the reference's dialect) over the sandbox's datasets.

Statements are parsed with SQLGlot as Spark SQL. Queries are compiled to the engine's dialect
and run there; catalog statements (SHOW TABLES, DESCRIBE) are answered from the catalog. Every
dataset is served to the engine under its table name at its current snapshot, refreshed before
each statement when a batch has landed since.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from distillery.engines.base import Engine
from distillery.errors import QueryError, UnknownTableError
from distillery.lake.datasets import Lake
from distillery.sql.result import Result
from distillery.sql.split import split_statements

# SQLGlot logs a warning for every statement it keeps as an opaque command (SHOW, ...).
logging.getLogger("sqlglot").setLevel(logging.ERROR)

READ_DIALECT = "spark"
_SHOW_TABLES = re.compile(r"^\s*SHOW\s+TABLES\s*;?\s*$", re.IGNORECASE)
_UNKNOWN_TABLE = re.compile(r"Table with name (\S+) does not exist", re.IGNORECASE)
_SQLSTATES: list[tuple[type[Exception], str]] = [
    (duckdb.CatalogException, "42P01"),
    (duckdb.BinderException, "42703"),
    (duckdb.ParserException, "42601"),
    (duckdb.ConversionException, "22018"),
    (duckdb.OutOfRangeException, "22003"),
    (duckdb.InvalidInputException, "22023"),
    (duckdb.InterruptException, "57014"),
    (duckdb.OutOfMemoryException, "53200"),
]


@dataclass
class Session:
    """A Query Service session: its settings (`SET k = v`) and the statement it runs now."""

    engine: Engine
    settings: dict[str, str] = field(default_factory=dict)
    read_only: bool = False
    variables: dict[str, Any] = field(default_factory=dict)
    _current: Any = None

    def cursor(self) -> Any:
        """A fresh engine cursor for the next statement (an open result blocks a cursor)."""
        self._current = self.engine.cursor()
        return self._current

    def interrupt(self) -> None:
        """Cancel the statement this session is running."""
        if self._current is not None:
            self._current.interrupt()


Handler = Callable[["QueryService", Session, exp.Expression, dict[str, Any] | None], Result]
# A statement SQLGlot cannot parse (CREATE MODEL, CREATE AUDIENCE, ...) is handled by text.
TextHandler = Callable[["QueryService", Session, "re.Match[str]", dict[str, Any] | None], Result]
_WRITES = (exp.Create, exp.Insert, exp.Drop, exp.Alter, exp.Update, exp.Delete, exp.Merge)


class QueryService:
    """Runs Spark SQL against one sandbox's datasets on an engine."""

    def __init__(self, lake: Lake, engine: Engine, sandbox: str = "prod") -> None:
        self.lake, self.engine, self.sandbox = lake, engine, sandbox
        self._served: dict[str, tuple[str, int]] = {}  # table -> (dataset id, version)
        self._sync_lock = threading.Lock()
        self.handlers: dict[type[exp.Expression], Handler] = {
            exp.Describe: _describe,
            exp.Set: _set,
        }
        self.text_handlers: list[tuple[re.Pattern[str], TextHandler, bool]] = []
        self._default: Session | None = None

    def register_statement(self, pattern: str, handler: TextHandler, *,
                           writes: bool = True) -> None:
        """Handle statements whose text matches `pattern` (case-insensitive, from the start)
        with `handler`; `writes` says whether a read-only session is refused them."""
        self.text_handlers.append((re.compile(pattern, re.IGNORECASE | re.DOTALL), handler,
                                   writes))

    # Sessions and statements -----------------------------------------------------------------

    def session(self) -> Session:
        """A new session (the PostgreSQL server opens one per connection)."""
        return Session(self.engine)

    @property
    def default_session(self) -> Session:
        """The session `Platform.query` uses."""
        if self._default is None:
            self._default = self.session()
        return self._default

    def query(self, sql: str, params: dict[str, Any] | None = None,
              session: Session | None = None) -> Result:
        """Run one or more statements; return the last one's result."""
        results = self.execute(sql, params, session)
        return results[-1] if results else Result.message("EMPTY")

    def execute(self, sql: str, params: dict[str, Any] | None = None,
                session: Session | None = None) -> list[Result]:
        """Run every statement in `sql`, in order; return each one's result."""
        session = session or self.default_session
        results = []
        for text in split_statements(sql):
            for pattern, handler, writes in self.text_handlers:
                match = pattern.match(text)
                if match:
                    if writes:
                        self._check_writable(session, text)
                    results.append(handler(self, session, match, params))
                    break
            else:
                results.extend(self.run(session, stmt, params) for stmt in self.parse(text))
        return results

    def _check_writable(self, session: Session, text: str) -> None:
        if session.read_only:
            raise QueryError(f"this session is read-only and cannot run: {text[:80]}",
                             sqlstate="25006")

    def parse(self, sql: str) -> list[exp.Expression]:
        """Parse Spark SQL text into statements; a syntax error becomes a QueryError."""
        if _SHOW_TABLES.match(sql):
            return [exp.Command(this="SHOW", expression=exp.Literal.string("TABLES"))]
        try:
            statements = [s for s in sqlglot.parse(sql, read=READ_DIALECT) if s is not None]
        except ParseError as exc:
            first = exc.errors[0] if exc.errors else {}
            where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
            raise QueryError(f"syntax error{where}: {first.get('description', exc)}",
                             sqlstate="42601") from None
        if not statements:
            raise QueryError("no SQL statement given", sqlstate="42601")
        return statements

    def run(self, session: Session, stmt: exp.Expression,
            params: dict[str, Any] | None = None) -> Result:
        """Run one parsed statement."""
        if isinstance(stmt, exp.Command) and _is_show_tables(stmt):
            return self.show_tables()
        if isinstance(stmt, _WRITES) or (isinstance(stmt, exp.Command)
                                         and str(stmt.this).upper() != "SHOW"):
            self._check_writable(session, stmt.sql(READ_DIALECT))
        handler = self.handlers.get(type(stmt))
        if handler is not None:
            return handler(self, session, stmt, params)
        if isinstance(stmt, exp.Query):
            return self.select(session, stmt, params)
        if isinstance(stmt, exp.Command | exp.Create | exp.Insert | exp.Drop | exp.Alter):
            raise QueryError(f"statement not supported: {stmt.sql(READ_DIALECT)[:200]}",
                             sqlstate="0A000")
        raise QueryError(f"syntax error: {stmt.sql(READ_DIALECT)[:200]!r} is not a statement",
                         sqlstate="42601")

    def select(self, session: Session, query: exp.Expression,
               params: dict[str, Any] | None = None) -> Result:
        """Run a query on the engine; rows stream when the result is read."""
        self.sync()
        sql = self.compile(query)
        # Bind now so an unknown table or column fails here, not when rows are read.
        reader = self._open(session, sql, params, 100_000)
        first: list[pa.RecordBatchReader] = [reader]

        def open_reader(batch_size: int) -> pa.RecordBatchReader:
            return first.pop() if first else self._open(session, sql, params, batch_size)

        return Result(open_reader=open_reader, status="SELECT")

    def compile(self, stmt: exp.Expression) -> str:
        """The statement as SQL text of the engine's dialect."""
        return stmt.sql(dialect=self.engine.DIALECT)

    def _open(self, session: Session, sql: str, params: dict[str, Any] | None,
              batch_size: int) -> pa.RecordBatchReader:
        try:
            reader = self.engine.reader(sql, params, batch_size, cursor=session.cursor())
        except duckdb.Error as exc:
            raise self.translate(exc) from None
        return pa.RecordBatchReader.from_batches(reader.schema, self._guard(reader))

    def _guard(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except duckdb.Error as exc:
            raise self.translate(exc) from None

    def translate(self, exc: Exception) -> QueryError:
        """An engine error as a QueryError with a SQLSTATE and a one-line message."""
        text = str(exc).strip()
        missing = _UNKNOWN_TABLE.search(text)
        if missing:
            return UnknownTableError(f"table {missing.group(1)} does not exist in sandbox "
                                     f"{self.sandbox!r}; SHOW TABLES lists what does")
        state = next((s for cls, s in _SQLSTATES if isinstance(exc, cls)), "XX000")
        return QueryError(text.splitlines()[0] if text else type(exc).__name__, sqlstate=state)

    # Datasets as tables ----------------------------------------------------------------------

    def sync(self) -> None:
        """Serve every dataset at its current snapshot; forget dropped ones."""
        with self._sync_lock:
            current = {d.table_name: d for d in self.lake.datasets()}
            for name in set(self._served) - set(current):
                self.engine.unregister(name)
                del self._served[name]
            for name, ds in current.items():
                if self._served.get(name) != (ds.id, ds.version):
                    self.engine.register(name, self.lake.files(ds), ds.schema.to_arrow())
                    self._served[name] = (ds.id, ds.version)

    def show_tables(self) -> Result:
        """SHOW TABLES: every dataset with its name, id, labels and profile flag."""
        rows = [
            {"name": d.table_name, "dataSetId": d.id, "dataSet": d.name,
             "description": d.description, "labels": ",".join(d.labels),
             "profileEnabled": d.profile_enabled, "class": d.schema.cls}
            for d in self.lake.datasets()
        ]
        schema = pa.schema([("name", pa.string()), ("dataSetId", pa.string()),
                            ("dataSet", pa.string()), ("description", pa.string()),
                            ("labels", pa.string()), ("profileEnabled", pa.bool_()),
                            ("class", pa.string())])
        return Result.of(pa.Table.from_pylist(rows, schema=schema))


def _is_show_tables(stmt: exp.Command) -> bool:
    return str(stmt.this).upper() == "SHOW" and "TABLES" in stmt.expression.sql().upper()


def _describe(service: QueryService, session: Session, stmt: exp.Expression,
              params: dict[str, Any] | None) -> Result:
    service.sync()
    target = stmt.this
    name = target.name if isinstance(target, exp.Table) else target.sql(service.engine.DIALECT)
    ds = service.lake.catalog.find_dataset(name)
    if ds is None:
        raise UnknownTableError(f"table {name} does not exist in sandbox "
                                f"{service.sandbox!r}; SHOW TABLES lists what does")
    arrow = ds.schema.to_arrow()
    table = pa.table({
        "col_name": [f.name for f in arrow],
        "data_type": [str(f.type) for f in arrow],
        "nullable": [f.nullable for f in arrow],
    })
    return Result.of(table)


def _set(service: QueryService, session: Session, stmt: exp.Expression,
         params: dict[str, Any] | None) -> Result:
    for item in stmt.expressions:
        assignment = item.this
        if isinstance(assignment, exp.EQ):
            key = assignment.this.name or assignment.this.sql()
            value = assignment.expression
            session.settings[key.lower()] = (value.name if isinstance(value, exp.Literal | exp.Column)
                                             else value.sql()).lower()
    return Result.message("SET")
