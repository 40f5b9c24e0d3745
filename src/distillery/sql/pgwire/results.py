"""What a statement gives the wire: a command tag, and maybe rows pulled on demand.

Rows stay in the engine until the client is ready for them: a `RowStream` pulls one Arrow
batch at a time, cut to the row limit of an Execute or a FETCH, so neither the server nor a
cursor ever holds a whole large result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from distillery.errors import QueryError


@dataclass
class WireResult:
    """One statement's outcome.

    Attributes:
        tag: The command tag (`SELECT`, `SET`, `BEGIN`...); with `counted`, the number of
            rows sent is appended (`SELECT 3`).
        schema: The columns, for a statement that returns rows (else None).
        batches: The rows, pulled as they are sent.
        counted: Whether the tag ends with the row count.
        notices: Warnings to send before the result (severity, SQLSTATE, message).
        parameter_status: Reported settings that changed (`TimeZone`...), sent after it.
        binary: Rows go out in binary format whatever the client asked (a BINARY cursor).
        catalog: Rows come from the emulated catalog (lists are PostgreSQL arrays there).
    """

    tag: str
    schema: pa.Schema | None = None
    batches: Iterator[pa.RecordBatch] | None = None
    counted: bool = True
    notices: list[tuple[str, str, str]] = field(default_factory=list)
    parameter_status: dict[str, str] = field(default_factory=dict)
    binary: bool = False
    catalog: bool = False

    @classmethod
    def of_table(cls, table: pa.Table, tag: str = "SELECT", counted: bool = True
                 ) -> WireResult:
        """A result whose rows are already computed."""
        return cls(tag, table.schema, iter(table.to_batches()), counted)

    @classmethod
    def of_reader(cls, reader: pa.RecordBatchReader, tag: str = "SELECT") -> WireResult:
        """A result streamed from a record-batch reader."""
        return cls(tag, reader.schema, iter(reader))

    @classmethod
    def message(cls, tag: str, **extra: object) -> WireResult:
        """A result with no rows."""
        return cls(tag, counted=False, **extra)  # type: ignore[arg-type]

    @property
    def has_rows(self) -> bool:
        """Whether the statement returns rows (RowDescription) rather than only a tag."""
        return self.schema is not None


class RowStream:
    """Rows of one result, handed out in pieces of at most a given number of rows."""

    def __init__(self, result: WireResult, cancelled: Callable[[], bool] | None = None,
                 ) -> None:
        self.result = result
        self._batches = result.batches or iter(())
        self._pending: pa.RecordBatch | None = None
        self._cancelled = cancelled or (lambda: False)
        self._lock = threading.Lock()
        self.sent = 0
        self.exhausted = False

    def next_piece(self, limit: int = 0) -> pa.RecordBatch | None:
        """The next rows (at most `limit`, 0 = one batch), or None when there are no more."""
        with self._lock:
            if self._cancelled():
                raise QueryError("canceling statement due to user request", sqlstate="57014")
            batch = self._pending if self._pending is not None else self._pull()
            self._pending = None
            if batch is None:
                return None
            if 0 < limit < batch.num_rows:
                batch, self._pending = batch.slice(0, limit), batch.slice(limit)
            self.sent += batch.num_rows
            return batch

    def _pull(self) -> pa.RecordBatch | None:
        for batch in self._batches:
            if batch.num_rows:
                return batch
        self.exhausted = True
        return None

    def close(self) -> None:
        """Drop the rows not yet sent (releases the engine's cursor)."""
        with self._lock:
            close = getattr(self._batches, "close", None)
            if close is not None:
                close()
            self._batches = iter(())
            self._pending = None
            self.exhausted = True


@dataclass
class Cursor:
    """A cursor opened by DECLARE: rows handed out by FETCH, forward only."""

    stream: RowStream
    schema: pa.Schema
    hold: bool
    binary: bool
