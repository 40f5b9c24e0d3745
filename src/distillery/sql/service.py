"""The Query Service: Data Distiller SQL (Spark SQL plus AEP's extensions) over a sandbox.

Each statement's text is first offered to the statements registered by text
(`register_statement`: CREATE MODEL, CREATE AUDIENCE, ... from other modules), then to the
Data Distiller statements SQLGlot cannot parse (anonymous blocks, `SET @v`, ALTER TABLE keys
and labels, ANALYZE TABLE, SHOW STATISTICS). Anything else has its SNAPSHOT clauses,
`@variables` and `$parameters` rewritten (`preprocess`), is parsed as Spark SQL by SQLGlot and
dispatched by type: CREATE/INSERT/DROP (`ddl`, `views`), SET, DESCRIBE, queries. A query is
resolved (`rewrite`: snapshots, history_meta, sample_meta, statistics, table_exists,
TIME_BETWEEN_*), compiled to the engine's dialect and streamed. Every dataset is served to the
engine under its table name at its current snapshot, refreshed before each statement when a
batch has landed since; views are created in the engine from the catalog.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from distillery.engines.base import Engine
from distillery.errors import (
    AlreadyExistsError,
    IngestionError,
    NotFoundError,
    QueryError,
    SchemaError,
    UnknownTableError,
)
from distillery.lake.datasets import Lake
from distillery.sql import ddl, rewrite
from distillery.sql.alter import ALTER_PATTERN, run_alter
from distillery.sql.analyze import (
    ANALYZE_PATTERN,
    SHOW_STATISTICS_PATTERN,
    run_analyze,
    run_show_statistics,
)
from distillery.sql.blocks import BLOCK_PATTERN, SET_VARIABLE_PATTERN, run_block, run_set_variable
from distillery.sql.functions import rewrite_time_between
from distillery.sql.preprocess import PARAM_PREFIX, VAR_PREFIX, prepare
from distillery.sql.result import Result
from distillery.sql.split import split_statements
from distillery.sql.templates import QueryRun, Template, Templates
from distillery.sql.views import Views

# SQLGlot logs a warning for every statement it keeps as an opaque command (SHOW, ...).
logging.getLogger("sqlglot").setLevel(logging.ERROR)

READ_DIALECT = "spark"
_SHOW_TABLES = re.compile(r"^\s*SHOW\s+TABLES\s*;?\s*$", re.IGNORECASE)
# Library errors a statement can raise, and their SQLSTATEs; engine errors are classified
# by the engine (`Engine.classify`).
_SQLSTATES: list[tuple[type[Exception], str]] = [
    (pa.ArrowInvalid, "22003"),
    (NotFoundError, "42704"),
    (AlreadyExistsError, "42710"),
    (IngestionError, "22000"),
    (SchemaError, "42804"),
]


@dataclass
class Session:
    """A Query Service session: its settings (`SET k = v`), block variables (`SET @v = ...`),
    the error an EXCEPTION branch handled last, and the statement it runs now."""

    engine: Engine
    settings: dict[str, str] = field(default_factory=dict)
    read_only: bool = False
    variables: dict[str, Any] = field(default_factory=dict)
    last_error: QueryError | None = None
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
_FLAGS = re.IGNORECASE | re.DOTALL
_BUILTIN_TEXT: list[tuple[str, TextHandler, bool]] = [
    (BLOCK_PATTERN, run_block, False),
    (SET_VARIABLE_PATTERN, run_set_variable, False),
    (ALTER_PATTERN, run_alter, True),
    (ANALYZE_PATTERN, run_analyze, False),  # TABLESAMPLE writes; it checks that itself
    (SHOW_STATISTICS_PATTERN, run_show_statistics, False),
]


class QueryService:
    """Runs Data Distiller SQL against one sandbox's datasets on an engine."""

    def __init__(self, lake: Lake, engine: Engine, sandbox: str = "prod") -> None:
        self.lake, self.engine, self.sandbox = lake, engine, sandbox
        self._served: dict[str, tuple[str, int]] = {}  # table -> (dataset id, version)
        self._sync_lock = threading.RLock()
        self.handlers: dict[type[exp.Expression], Handler] = {
            exp.Describe: _describe,
            exp.Set: _set,
            exp.Create: cast(Handler, ddl.create),
            exp.Insert: cast(Handler, ddl.insert),
            exp.Drop: cast(Handler, ddl.drop),
        }
        self.text_handlers: list[tuple[re.Pattern[str], TextHandler, bool]] = []
        self._builtin_text = [(re.compile(p, _FLAGS), h, w) for p, h, w in _BUILTIN_TEXT]
        self.views = Views(self)
        self.templates = Templates(self)
        self._default: Session | None = None

    def register_statement(self, pattern: str, handler: TextHandler, *,
                           writes: bool = True) -> None:
        """Handle statements whose text matches `pattern` (case-insensitive, from the start)
        with `handler`; `writes` says whether a read-only session is refused them."""
        self.text_handlers.append((re.compile(pattern, _FLAGS), handler, writes))

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
            results.extend(self._run_text(session, text, params))
        return results

    def _run_text(self, session: Session, text: str,
                  params: dict[str, Any] | None) -> list[Result]:
        # Statements registered by other modules come first, then Data Distiller's own.
        for pattern, handler, writes in (*self.text_handlers, *self._builtin_text):
            match = pattern.match(text)
            if match:
                if writes:
                    self.check_writable(session, text)
                return [handler(self, session, match, params)]
        return [self.run(session, stmt, params) for stmt in self.parse(text)]

    def check_writable(self, session: Session, text: str) -> None:
        """Refuse a write in a read-only session (SQLSTATE 25006)."""
        if session.read_only:
            raise QueryError(f"this session is read-only and cannot run: {text[:80]}",
                             sqlstate="25006")

    _check_writable = check_writable  # the name this method had first

    def parse(self, sql: str) -> list[exp.Expression]:
        """Parse Data Distiller text into Spark SQL statements (SNAPSHOT clauses, @variables
        and $parameters rewritten first); a syntax error becomes a QueryError."""
        if _SHOW_TABLES.match(sql):
            return [exp.Command(this="SHOW", expression=exp.Literal.string("TABLES"))]
        try:
            statements = [cast(exp.Expression, s)
                          for s in sqlglot.parse(prepare(sql), read=READ_DIALECT) if s is not None]
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
            self.check_writable(session, stmt.sql(READ_DIALECT))
        handler = self.handlers.get(type(stmt))
        if handler is not None:
            return handler(self, session, stmt, params)
        if isinstance(stmt, exp.Query | exp.Values):
            return self.select(session, stmt, params)
        if isinstance(stmt, exp.Command | exp.Create | exp.Insert | exp.Drop | exp.Alter):
            raise QueryError(f"statement not supported: {stmt.sql(READ_DIALECT)[:200]}",
                             sqlstate="0A000")
        raise QueryError(f"syntax error: {stmt.sql(READ_DIALECT)[:200]!r} is not a statement",
                         sqlstate="42601")

    def select(self, session: Session, query: exp.Expression,
               params: dict[str, Any] | None = None) -> Result:
        """Run a query on the engine; rows stream when the result is read."""
        tree, bound = self.prepare(session, query, params)
        # Bind now so an unknown table or column fails here, not when rows are read.
        reader = self._open_tree(session, tree, bound, 100_000)
        if session.settings.get("auto_to_json") == "true" and _nested(reader.schema):
            tree = _as_json(tree, reader.schema)
            reader = self._open_tree(session, tree, bound, 100_000)
        first: list[pa.RecordBatchReader] = [reader]

        def open_reader(batch_size: int) -> pa.RecordBatchReader:
            return first.pop() if first else self._open_tree(session, tree, bound, batch_size)

        return Result(open_reader=open_reader, status="SELECT")

    def open(self, session: Session, query: exp.Expression,
             params: dict[str, Any] | None = None,
             batch_size: int = 100_000) -> pa.RecordBatchReader:
        """Run a query and stream its rows (what CREATE TABLE AS and INSERT write)."""
        tree, bound = self.prepare(session, query, params)
        return self._open_tree(session, tree, bound, batch_size)

    def prepare(self, session: Session, query: exp.Expression,
                params: dict[str, Any] | None = None) -> tuple[exp.Expression, dict[str, Any]]:
        """The engine-ready tree of a query and the parameter values it uses."""
        self.sync()
        values = dict(params or {})
        values.update({f"{PARAM_PREFIX}{k}": v for k, v in (params or {}).items()})
        values.update({f"{VAR_PREFIX}{k}": v for k, v in session.variables.items()})
        tree = self.resolve(query, values)
        return tree, rewrite.bind(tree, values)

    def resolve(self, query: exp.Expression,
                values: dict[str, Any] | None = None) -> exp.Expression:
        """A copy of a query with Distillery's tables and functions replaced (see rewrite)."""
        return rewrite.resolve(self, query, values)

    def compile(self, stmt: exp.Expression) -> str:
        """The statement as SQL text of the engine's dialect (Adobe functions rewritten)."""
        tree = rewrite_time_between(stmt.copy())
        return self.engine.transform(tree).sql(dialect=self.engine.DIALECT)

    def _open_tree(self, session: Session, tree: exp.Expression, bound: dict[str, Any],
                   batch_size: int) -> pa.RecordBatchReader:
        return self._open(session, tree.sql(dialect=self.engine.DIALECT), bound, batch_size)

    def _open(self, session: Session, sql: str, params: dict[str, Any] | None,
              batch_size: int) -> pa.RecordBatchReader:
        try:
            reader = self.engine.reader(sql, params, batch_size, cursor=session.cursor())
        except (*self.engine.ERRORS, pa.ArrowInvalid) as exc:
            raise self.translate(exc) from None
        return pa.RecordBatchReader.from_batches(reader.schema, self._guard(reader))

    def _guard(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except (*self.engine.ERRORS, pa.ArrowInvalid) as exc:
            raise self.translate(exc) from None

    def translate(self, exc: Exception) -> QueryError:
        """An engine (or library) error as a QueryError with a SQLSTATE and one line."""
        if isinstance(exc, QueryError):
            return exc
        text = str(exc).strip()
        if isinstance(exc, self.engine.ERRORS):
            state, missing = self.engine.classify(exc)
            if missing:
                return UnknownTableError(f"table {missing} does not exist in sandbox "
                                         f"{self.sandbox!r}; SHOW TABLES lists what does")
        else:
            state = next((s for cls, s in _SQLSTATES if isinstance(exc, cls)), "XX000")
        return QueryError(text.splitlines()[0] if text else type(exc).__name__, sqlstate=state)

    # Datasets and views as tables ------------------------------------------------------------

    def sync(self) -> None:
        """Serve every dataset at its current snapshot and every view; forget dropped ones."""
        with self._sync_lock:
            current = {d.table_name: d for d in self.lake.datasets()}
            for name in set(self._served) - set(current):
                self.engine.unregister(name)
                del self._served[name]
            for name, ds in current.items():
                if self._served.get(name) != (ds.id, ds.version):
                    self.engine.register(name, self.lake.files(ds), ds.schema.to_arrow())
                    self._served[name] = (ds.id, ds.version)
            self.views.sync()

    def show_tables(self) -> Result:
        """SHOW TABLES: every dataset with its name, id, labels and profile flag; then views."""
        rows = [
            {"name": d.table_name, "dataSetId": d.id, "dataSet": d.name,
             "description": d.description, "labels": ",".join(d.labels),
             "profileEnabled": d.profile_enabled, "class": d.schema.cls}
            for d in self.lake.datasets()
        ]
        rows += [{"name": v, "dataSetId": None, "dataSet": None, "description": "",
                  "labels": "", "profileEnabled": False, "class": "view"}
                 for v in self.views.names()]
        schema = pa.schema([("name", pa.string()), ("dataSetId", pa.string()),
                            ("dataSet", pa.string()), ("description", pa.string()),
                            ("labels", pa.string()), ("profileEnabled", pa.bool_()),
                            ("class", pa.string())])
        return Result.of(pa.Table.from_pylist(rows, schema=schema))

    # Query templates and runs (see templates.py) ----------------------------------------------

    def save_template(self, name: str, sql: str, *, replace: bool = False) -> Template:
        """Save a query template with `$name` parameters."""
        return self.templates.save(name, sql, replace=replace)

    def run_template(self, name: str, values: dict[str, Any] | None = None, *,
                     async_: bool = False) -> str:
        """Run a saved template with parameter values; return the run id."""
        return self.templates.run(name, values, async_=async_)

    def query_run(self, run_id: str) -> QueryRun:
        """A query run by id (state, elapsed time, rows, error code)."""
        return self.templates.get_run(run_id)

    def query_runs(self, limit: int = 100) -> list[QueryRun]:
        """The latest query runs, newest first."""
        return self.templates.runs(limit)

    def wait_for_run(self, run_id: str, timeout: float | None = None) -> QueryRun:
        """Wait until a run is SUCCESS or FAILED (or `timeout` seconds pass)."""
        return self.templates.wait(run_id, timeout)


def _is_show_tables(stmt: exp.Command) -> bool:
    return str(stmt.this).upper() == "SHOW" and "TABLES" in stmt.expression.sql().upper()


def _nested(schema: pa.Schema) -> bool:
    return any(pa.types.is_nested(f.type) for f in schema)


def _as_json(tree: exp.Expression, schema: pa.Schema) -> exp.Expression:
    """`SET auto_to_json = true`: top-level structs, maps and lists as JSON text. Columns
    whose name repeats keep their type (they cannot be addressed by name)."""
    names = schema.names
    projections = []
    for f in schema:
        col = exp.column(f.name, table="__q", quoted=True)
        if pa.types.is_nested(f.type) and names.count(f.name) == 1:
            projections.append(exp.alias_(exp.JSONFormat(this=col), f.name, quoted=True))
        else:
            projections.append(col)
    return exp.select(*projections).from_(exp.Subquery(this=tree, alias="__q"))


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
            text = value.name if isinstance(value, exp.Literal | exp.Column) else value.sql()
            session.settings[key.lower()] = text.lower()
    return Result.message("SET")

