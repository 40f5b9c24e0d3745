"""The scale-out engine: Apache Spark (local[*] by default, a cluster via `spark.master`, or a
Spark Connect URL).

Spark reads each dataset's Parquet files, the file list of the Delta version asked for, so
snapshots and time travel hold without delta-spark (whose jars cannot be fetched offline).
ANSI mode is off, as in the Spark SQL the reference's Query Service speaks: a failed CAST is
NULL on both engines.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import uuid
from typing import Any

import pyarrow as pa
from sqlglot import exp

from distillery.engines.base import Engine
from distillery.errors import ConfigError

DEFAULT_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
}


class SparkCursor:
    """A handle whose queries run in one Spark job group, so they can be cancelled together."""

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self.group = f"distillery-{uuid.uuid4().hex[:12]}"

    def interrupt(self) -> None:
        """Cancel this handle's running jobs."""
        if hasattr(self.spark, "interruptTag"):  # Spark Connect
            self.spark.interruptTag(self.group)
        else:
            self.spark.sparkContext.cancelJobGroup(self.group)


def _spark_errors() -> tuple[type[Exception], ...]:
    try:
        from pyspark.errors import PySparkException
    except ImportError:  # without PySpark the engine cannot start anyway
        return ()
    return (PySparkException,)


_MISSING_TABLE = re.compile(r"TABLE_OR_VIEW_NOT_FOUND\].*?`?([\w.]+)`? cannot be found",
                            re.IGNORECASE | re.DOTALL)
_CLASSES = {"TABLE_OR_VIEW_NOT_FOUND": "42P01", "UNRESOLVED_COLUMN": "42703",
            "PARSE_SYNTAX_ERROR": "42601", "CAST_INVALID_INPUT": "22018",
            "DIVIDE_BY_ZERO": "22012", "UNRESOLVED_ROUTINE": "42883"}


class SparkEngine(Engine):
    """Spark SQL through PySpark."""

    NAME = "spark"
    DIALECT = "spark"
    ERRORS = _spark_errors()

    def __init__(self, master: str | None = None, remote: str | None = None,
                 conf: dict[str, str] | None = None) -> None:
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise ConfigError("the Spark engine needs PySpark: pip install 'distillery[spark]'"
                              ) from exc
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = SparkSession.builder.appName("distillery")
        if remote:
            builder = builder.remote(remote)
        else:
            builder = builder.master(master or "local[*]")
            for key, value in {**DEFAULT_CONF, **(conf or {})}.items():
                builder = builder.config(key, value)
        self.spark = builder.getOrCreate()
        self._lock = threading.Lock()
        self._scans: set[str] = set()

    def classify(self, exc: Exception) -> tuple[str, str | None]:
        text = str(exc)
        missing = _MISSING_TABLE.search(text)
        if missing:
            return "42P01", missing.group(1).split(".")[-1]
        condition = getattr(exc, "getCondition", lambda: None)() or ""
        state = next((v for k, v in _CLASSES.items() if k in (condition or text)), None)
        return state or (getattr(exc, "getSqlState", lambda: None)() or "XX000"), None

    def scan(self, files: list[str]) -> exp.Expression:
        # Spark SQL reads a file list only through a view: one per distinct list, reused.
        name = "_scan_" + hashlib.sha1("\n".join(files).encode()).hexdigest()[:16]
        with self._lock:
            if name not in self._scans:
                self.spark.read.parquet(*files).createOrReplaceTempView(name)
                self._scans.add(name)
        return exp.to_identifier(name)

    def tables(self) -> list[str]:
        return [t.name for t in self.spark.catalog.listTables()]

    def register(self, name: str, files: list[str], schema: pa.Schema) -> None:
        if files:
            frame = self.spark.read.parquet(*files)
        else:
            frame = self.spark.createDataFrame(schema.empty_table())
        with self._lock:
            frame.createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        with self._lock:
            self.spark.catalog.dropTempView(name)

    def cursor(self) -> SparkCursor:
        return SparkCursor(self.spark)

    def reader(self, sql: str, params: dict[str, Any] | None = None,
               batch_size: int = 100_000, cursor: Any = None) -> pa.RecordBatchReader:
        frame = self._frame(sql, params, cursor)
        # toArrow collects to the driver; Spark's own outputs (datasets, exports) are written
        # by the executors instead, so this is only the interactive path.
        table = frame.toArrow()
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(batch_size))

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self._frame(sql, params, None).collect()

    def _frame(self, sql: str, params: dict[str, Any] | None, cursor: Any) -> Any:
        handle = cursor or self.cursor()
        if hasattr(self.spark, "addTag"):
            self.spark.addTag(handle.group)
        else:
            self.spark.sparkContext.setJobGroup(handle.group, "distillery query", True)
        return self.spark.sql(sql, args=params or None)

    def close(self) -> None:
        self.spark.stop()
