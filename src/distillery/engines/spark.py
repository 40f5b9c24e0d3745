"""The scale-out engine: Apache Spark (local[*] by default, a cluster via `spark.master`, or a
Spark Connect URL via `spark.remote`).

Spark reads each dataset's Parquet files, the file list of the Delta version asked for, so
snapshots and time travel hold without delta-spark (whose jars cannot be fetched offline).
Datasets are temporary views of the engine's own session (`spark_session`); ANSI mode is off
and the session is in UTC, as in the Spark SQL the reference's Query Service speaks (a failed
CAST is NULL on both engines). Rows come back as Arrow (`spark_results`); parameters are bound
by Spark (`spark.sql(sql, args=...)`), never pasted into the text.

Settings Distillery reads from `spark.conf` itself:

- `spark.distillery.results`: "stream" (default; bounded driver memory) or "collect".
- `spark.distillery.pathMap`: `LOCAL_PREFIX=URL_PREFIX`, how executors reach the home's files
  when the driver sees them under another path (see docs/spark.md).
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
from sqlglot import exp

from distillery.engines import spark_functions, spark_results, spark_session
from distillery.engines.base import Engine
from distillery.errors import ConfigError

_SCAN_PREFIX = "_scan_"
# Scan views kept per engine: each is only a name for a file list, but they add up in the
# session's catalog on a long-running server.
_MAX_SCANS = 256


class SparkCursor:
    """A handle whose queries run under one Spark job tag, so they can be cancelled together.

    Classic Spark tags jobs through the SparkContext: its tags are thread-local properties
    that the threads Spark starts for a query inherit (the thread that serves streamed rows
    runs the jobs, and a session-level tag does not reach it; measured: interruptTag left such
    a query running, cancelJobsWithTag stopped it within 1.3 s). Spark Connect tags
    operations of its session on the server.
    """

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self.group = f"distillery-{uuid.uuid4().hex[:12]}"
        self._context = _context_of(spark)

    def interrupt(self) -> None:
        """Cancel this handle's running jobs."""
        if self._context is not None:
            self._context.cancelJobsWithTag(self.group)
        else:
            self.spark.interruptTag(self.group)

    @contextmanager
    def tagged(self) -> Iterator[None]:
        """Jobs started by this thread meanwhile carry this handle's tag (tags are per
        thread; removing it afterwards keeps later queries out of a cancel)."""
        tags = self._context if self._context is not None else self.spark
        add, remove = (tags.addJobTag, tags.removeJobTag) if self._context is not None \
            else (tags.addTag, tags.removeTag)
        add(self.group)
        try:
            yield
        finally:
            remove(self.group)

    def __enter__(self) -> SparkCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _context_of(spark: Any) -> Any:
    """The SparkContext of a classic session; None on Spark Connect (which has none)."""
    if is_connect(spark):
        return None
    return spark.sparkContext


def is_connect(spark: Any) -> bool:
    """Whether a session is a Spark Connect client (told by its class's module, so that
    the Connect libraries are not imported for a classic session)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _spark_errors() -> tuple[type[Exception], ...]:
    try:
        from pyspark.errors import PySparkException
    except ImportError:  # without PySpark the engine cannot start anyway
        return ()
    return (PySparkException,)


_MISSING_TABLE = re.compile(r"TABLE_OR_VIEW_NOT_FOUND\].*?`?([\w.]+)`? cannot be found",
                            re.IGNORECASE | re.DOTALL)
_CLASSES = {"TABLE_OR_VIEW_NOT_FOUND": "42P01", "UNRESOLVED_COLUMN": "42703",
            "FIELD_NOT_FOUND": "42703", "PARSE_SYNTAX_ERROR": "42601",
            "CAST_INVALID_INPUT": "22018", "DIVIDE_BY_ZERO": "22012",
            "UNRESOLVED_ROUTINE": "42883", "USER_RAISED_EXCEPTION": "P0001",
            "UNBOUND_SQL_PARAMETER": "42P02", "TASK_CANCELLED": "57014",
            "OPERATION_CANCELED": "57014", "SPARK_JOB_CANCELLED": "57014",
            "DATATYPE_MISMATCH": "42804"}


class SparkEngine(Engine):
    """Spark SQL through PySpark (classic or Spark Connect)."""

    NAME = "spark"
    DIALECT = "spark"
    ERRORS = _spark_errors()

    def __init__(self, master: str | None = None, remote: str | None = None,
                 conf: dict[str, str] | None = None) -> None:
        settings = dict(conf or {})
        self.results = settings.get(spark_session.RESULTS_KEY, "stream")
        if self.results not in spark_results.RESULT_MODES:
            raise ConfigError(f"{spark_session.RESULTS_KEY} must be one of "
                              f"{list(spark_results.RESULT_MODES)}, got {self.results!r}")
        self._paths = spark_session.path_map(settings)
        self._attached = spark_session.attach(master, remote, settings)
        self.spark = self._attached.session
        self._lock = threading.Lock()
        self._scans: dict[str, None] = {}  # insertion-ordered: the oldest is dropped first
        self._served: set[str] = set()

    # Errors ---------------------------------------------------------------------------------

    def classify(self, exc: Exception) -> tuple[str, str | None]:
        text = str(exc)
        missing = _MISSING_TABLE.search(text)
        if missing:
            return "42P01", missing.group(1).split(".")[-1]
        condition = getattr(exc, "getCondition", lambda: None)() or ""
        state = next((v for k, v in _CLASSES.items() if k in (condition or text)), None)
        return state or (getattr(exc, "getSqlState", lambda: None)() or "XX000"), None

    # Tables ---------------------------------------------------------------------------------

    def scan(self, files: list[str]) -> exp.Expression:
        """A view over exactly `files` (Spark SQL reads a file list only through a view): one
        per distinct list, reused, named after the list's hash."""
        if not files:
            raise ValueError("scan needs at least one file")
        name = _SCAN_PREFIX + hashlib.sha1("\n".join(files).encode()).hexdigest()[:16]
        with self._lock:
            if name in self._scans:
                self._scans[name] = self._scans.pop(name)  # most recently used last
            else:
                self._read(files).createOrReplaceTempView(name)
                self._scans[name] = None
                self._forget_old_scans()
        return exp.to_identifier(name)

    def _forget_old_scans(self) -> None:
        while len(self._scans) > _MAX_SCANS:
            oldest = next(iter(self._scans))
            del self._scans[oldest]
            self.spark.catalog.dropTempView(oldest)

    def tables(self) -> list[str]:
        """Tables and views the engine serves: datasets, views, other modules' tables (the
        session's temporary views, without the private file-list scans)."""
        return [t.name for t in self.spark.catalog.listTables()
                if t.isTemporary and not t.name.startswith(_SCAN_PREFIX)]

    def register(self, name: str, files: list[str], schema: pa.Schema) -> None:
        if files:
            frame = self._read(files, schema)
        else:
            with spark_results.quiet_pandas_check():
                frame = self.spark.createDataFrame(schema.empty_table())
        with self._lock:
            frame.createOrReplaceTempView(name)
            self._served.add(name)

    def unregister(self, name: str) -> None:
        with self._lock:
            self.spark.catalog.dropTempView(name)
            self._served.discard(name)

    def _read(self, files: list[str], schema: pa.Schema | None = None) -> Any:
        reader = self.spark.read
        if schema is not None:
            # A given schema spares Spark a job that reads the files' footers to infer it.
            from pyspark.sql.pandas.types import from_arrow_schema

            try:
                reader = reader.schema(from_arrow_schema(schema))
            except (TypeError, ValueError):  # a type PySpark cannot map: let Spark infer it
                reader = self.spark.read
        return reader.parquet(*[spark_session.map_path(f, self._paths) for f in files])

    # Statements -----------------------------------------------------------------------------

    def transform(self, tree: exp.Expression) -> exp.Expression:
        """Spark-specific statement fixes (see `spark_functions`)."""
        return spark_functions.transform(tree)

    def cursor(self) -> SparkCursor:
        return SparkCursor(self.spark)

    def reader(self, sql: str, params: dict[str, Any] | None = None,
               batch_size: int = 100_000, cursor: Any = None) -> pa.RecordBatchReader:
        """Run a query and stream its rows. The query is analysed now (an unknown table or
        column fails here); it runs when the first batch is read."""
        handle = cursor if isinstance(cursor, SparkCursor) else self.cursor()
        frame = self._frame(sql, params)
        schema = spark_results.arrow_schema(frame)
        rows = spark_results.batches(frame, schema, self.results, batch_size, handle.tagged)
        return pa.RecordBatchReader.from_batches(schema, rows)

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with self.cursor().tagged(), spark_results.spark_errors():
            self._frame(sql, params).collect()

    def _frame(self, sql: str, params: dict[str, Any] | None) -> Any:
        args = {k: spark_results.parameter(v) for k, v in (params or {}).items()} or None
        frame = self.spark.sql(sql, args=args)
        frame.schema  # noqa: B018 (Spark Connect analyses lazily; this makes errors surface now)
        return frame

    def close(self) -> None:
        """Drop what this engine served; stop Spark if it started it and is its last user."""
        for name in [*self._scans, *self._served]:
            try:
                self.spark.catalog.dropTempView(name)
            except Exception:  # a stopped session has nothing left to drop
                break
        self._scans.clear()
        self._served.clear()
        spark_session.release(self._attached)
