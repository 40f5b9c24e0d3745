"""A Spark query's rows as an Arrow record-batch stream, and Python values as Spark parameters.

Two ways to bring rows to the driver:

- "stream" (the default): one partition at a time, the next one prefetched, so memory on the
  driver is bounded by a partition, not by the result. That is what CREATE TABLE AS, INSERT and
  audience evaluations need when their rows stream into a dataset through batch ingestion, and
  what keeps a featurization's long form (millions of rows) off the JVM heap. On classic Spark
  the executors encode each partition as Arrow record batches in the JVM (the path `toArrow`
  takes) and the driver serves those bytes to Python as they are (`_arrow_partitions`). On
  Spark Connect, where the JVM is out of reach, a small Arrow function on the executors encodes
  each partition as Arrow IPC messages of a few MiB (`mapInArrow`) that the client fetches
  with `toLocalIterator`.
- "collect": `DataFrame.toArrow()`, the whole result at once: the JVM holds every partition's
  Arrow batches and Python the whole table.

Why not `toLocalIterator` over `mapInArrow` on classic Spark too (the first version did): the
JVM pickles each row it sends to Python, and it pickles a binary value as a Latin-1 text,
encoded to UTF-8 into a buffer that grows by doubling, so each IPC message (one per partition
when the reader asked for large batches) was on the heap several times over at once. At
1,000,000 people the long form of the scoring features exhausted a 4 GB driver that way
(`OutOfMemoryError` in `Pickler.put_string`, under `toLocalIterator`'s `awaitResult`). Served
as raw bytes, the Arrow batches are neither pickled nor re-encoded.

Either way the query runs when the first batch is read, under the cursor's job tag, so it can be
cancelled; rows come back in the query's order (partitions are fetched in order).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

RESULT_MODES = ("stream", "collect")


def arrow_schema(frame: Any) -> pa.Schema:
    """The Arrow schema of a DataFrame's rows: `toArrow`'s types (timestamps in UTC), every
    field nullable.

    Spark declares some results NOT NULL (a count); DuckDB declares none, and a dataset
    written from a result takes its nullability from it, so the Spark engine reports what
    DuckDB reports and the datasets the two engines write are alike.
    """
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(frame.schema, timezone="UTC", prefers_large_types=False)
    return pa.schema([_nullable_field(f) for f in schema], metadata=schema.metadata)


def _nullable_field(field: pa.Field) -> pa.Field:
    return field.with_type(_nullable_type(field.type)).with_nullable(True)


def _nullable_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_struct(kind):
        return pa.struct([_nullable_field(kind.field(i)) for i in range(kind.num_fields)])
    if pa.types.is_map(kind):  # a map's keys are never NULL, in Arrow as in Spark
        return pa.map_(kind.key_field, _nullable_field(kind.item_field))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        maker = pa.list_ if pa.types.is_list(kind) else pa.large_list
        return maker(_nullable_field(kind.value_field))
    return kind


def batches(frame: Any, schema: pa.Schema, mode: str, batch_size: int,
            tagged: Callable[[], Any]) -> Iterator[pa.RecordBatch]:
    """The rows of `frame` in batches of about `batch_size` rows, cast to `schema`.

    `tagged` is a context manager factory that puts the running jobs under the cursor's tag.
    """
    with tagged(), spark_errors():
        if mode == "collect":
            source: Iterator[pa.RecordBatch] = iter(frame.toArrow().to_batches())
        else:
            source = _streamed(frame, batch_size)
        yield from _rebatched((_conform(b, schema) for b in source), schema, batch_size)


def _streamed(frame: Any, batch_size: int) -> Iterator[pa.RecordBatch]:
    # The executors and the driver refer to the columns by position: a result's names may
    # repeat (`SELECT 1, 1`) or hold dots (an expression without alias). The driver gives the
    # batches their real names back (`_conform`).
    positional = frame.toDF(*[f"_{i}" for i in range(len(frame.columns))])
    served = _arrow_partitions(positional, batch_size)
    yield from served if served is not None else _mapped_partitions(positional, batch_size)


def _mapped_partitions(frame: Any, batch_size: int) -> Iterator[pa.RecordBatch]:
    """The rows of a DataFrame whose columns have plain names, one partition at a time,
    encoded by a Python function on the executors (the Spark Connect path)."""
    with quiet_pandas_check():
        encoded = frame.mapInArrow(_encoder(batch_size), "ipc binary")
    for row in encoded.toLocalIterator(prefetchPartitions=True):
        yield from pa.ipc.open_stream(row[0])


# Rows per Arrow batch the JVM encodes. Measured on the long form of 1,000,000 people (4.5
# million rows, 2 busy cores): 9 to 18 s with 65,536 or Spark's default 10,000, as with
# `toArrow`; the larger batch only means fewer messages for the driver to decode.
JVM_BATCH_ROWS = 65_536


def _arrow_partitions(frame: Any, batch_size: int) -> Iterator[pa.RecordBatch] | None:
    """The rows of a classic DataFrame, one partition at a time, as the Arrow record batches
    the executors encode in the JVM; None on Spark Connect (or a PySpark without these
    internals), where the caller falls back to `mapInArrow`.

    PySpark has no public call for this (`toArrow` collects everything, `toLocalIterator`
    pickles rows), so it joins two of its own pieces: `Dataset.toArrowBatchRdd` (the
    per-partition Arrow encoding behind `toArrow`) and `PythonRDD.toLocalIteratorAndServe`
    (the partition-by-partition server behind `toLocalIterator`), which writes byte arrays to
    the socket unchanged.
    """
    if type(frame).__module__.startswith("pyspark.sql.connect"):
        return None
    try:
        from pyspark.serializers import NoOpSerializer
        from pyspark.sql.pandas.types import to_arrow_schema
        from pyspark.util import _local_iterator_from_socket

        jdf = frame._jdf
        jvm = frame.sparkSession.sparkContext._jvm
    except (ImportError, AttributeError):
        return None
    # The batches come without a schema message: the schema is the one the JVM encodes with
    # (UTC, the session's time zone; no large types; duplicate struct fields allowed).
    wire = to_arrow_schema(frame.schema, timezone="UTC", prefers_large_types=False,
                           error_on_duplicated_field_names_in_struct=False)
    rows = max(1, min(batch_size, JVM_BATCH_ROWS))
    encoded = jdf.toArrowBatchRdd(rows, "UTC", False, False)
    served = jvm.org.apache.spark.api.python.PythonRDD.toLocalIteratorAndServe(encoded, True)
    messages = _local_iterator_from_socket(served, NoOpSerializer())
    return (pa.ipc.read_record_batch(pa.py_buffer(m), wire) for m in messages)


@contextmanager
def quiet_pandas_check() -> Iterator[None]:
    """Silence PySpark's pandas-version warning around `mapInArrow`: PySpark checks for
    pandas whenever a Python function is wrapped, though mapInArrow never uses pandas."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                category=FutureWarning)
        yield


# The largest IPC message the executors send on the `mapInArrow` path: each is one binary
# value of a row, and Spark Connect aims at result messages of 4 MiB
# (`spark.connect.grpc.arrow.maxBatchSize`).
MESSAGE_BYTES = 4 << 20


def _encoder(batch_size: int, max_bytes: int = MESSAGE_BYTES
             ) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function the executors run: a partition's batches as IPC messages of at most about
    `batch_size` rows and `max_bytes` bytes each (fewer, larger messages cost less to ship
    than Spark's 10,000-row Arrow batches, but one huge value costs its size many times over
    on the way). It refers to nothing of Distillery's, so executors need only PyArrow."""

    def encode(parts: Iterator[Any]) -> Iterator[Any]:
        import pyarrow

        def message(group: list[Any]) -> Any:
            sink = pyarrow.BufferOutputStream()
            with pyarrow.ipc.new_stream(sink, group[0].schema) as writer:
                for item in group:
                    writer.write_batch(item)
            return pyarrow.RecordBatch.from_pydict(
                {"ipc": pyarrow.array([sink.getvalue().to_pybytes()], pyarrow.binary())})

        pending: list[Any] = []
        rows = size = 0
        for batch in parts:
            pending.append(batch)
            rows += batch.num_rows
            size += batch.nbytes
            if rows >= batch_size or size >= max_bytes:
                yield message(pending)
                pending, rows, size = [], 0, 0
        if rows:
            yield message(pending)

    return encode


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch with the result's names and declared types (time zone spelling,
    nullability), column by column in order."""
    if batch.schema.equals(schema):
        return batch
    arrays = [column.cast(field.type) for column, field in zip(batch.columns, schema,
                                                                 strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _rebatched(source: Iterator[pa.RecordBatch], schema: pa.Schema,
               batch_size: int) -> Iterator[pa.RecordBatch]:
    """Batches of at most `batch_size` rows; small ones are combined on the way."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in source:
        for start in range(0, batch.num_rows, batch_size):
            piece = batch.slice(start, batch_size)
            if rows + piece.num_rows > batch_size and pending:
                yield _combined(pending, schema)
                pending, rows = [], 0
            pending.append(piece)
            rows += piece.num_rows
    if pending:
        yield _combined(pending, schema)


def _combined(batches: list[pa.RecordBatch], schema: pa.Schema) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches, schema=schema).combine_chunks().to_batches()[0]


def parameter(value: Any) -> Any:
    """A Python value as a Spark SQL parameter.

    A naive datetime is UTC, as it is on the DuckDB engine (whose session is in UTC); PySpark
    would otherwise read it in the driver machine's local time zone.
    """
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@contextmanager
def spark_errors() -> Iterator[None]:
    """Errors raised while rows are fetched, as PySpark's own exceptions.

    A failure in an executor (raise_error, a bad cast under ANSI, a Python worker's error)
    reaches the driver through the socket that streams the rows, as a bare Py4J error whose
    message is "An error occurred while calling oNNN.getResult"; the Spark error that explains
    it is a few causes down. The first cause PySpark knows is raised instead, so the Query
    Service can classify it and show its message.
    """
    try:
        yield
    except Exception as exc:
        known = _known_cause(exc)
        if known is None:
            raise
        raise known from None


def _known_cause(exc: Exception) -> Exception | None:
    try:
        from py4j.protocol import Py4JJavaError
        from pyspark.errors.exceptions.captured import UnknownException, convert_exception
    except ImportError:
        return None
    if not isinstance(exc, Py4JJavaError):
        return None
    causes: list[tuple[str, Exception]] = []
    cause = exc.java_exception
    while cause is not None and len(causes) < 20:
        causes.append((str(cause.getMessage() or ""), convert_exception(cause)))
        cause = cause.getCause()
    known = [c for _, c in causes if not isinstance(c, UnknownException)]
    # Else the first with an error condition ("[SPARK_JOB_CANCELLED] ..."), else the top.
    named = [c for message, c in causes if message.startswith("[")]
    return (known or named or [c for _, c in causes] or [None])[0]
