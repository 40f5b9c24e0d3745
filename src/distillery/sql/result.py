"""Query results: rows streamed as Arrow record batches, with the usual conversions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa


class Result:
    """The outcome of one statement: rows (streamed on demand) and a status line.

    A result of a query runs the query when its rows are first asked for; each of `reader`,
    `arrow`, `df`, `pl` and `rows` runs it again, so take what you need once.
    """

    def __init__(self, *, open_reader: Callable[[int], pa.RecordBatchReader] | None = None,
                 table: pa.Table | None = None, status: str = "OK",
                 rowcount: int | None = None) -> None:
        self._open = open_reader
        self._table = table
        self.status = status
        # Rows a statement wrote (INSERT, CREATE TABLE AS) or holds; None when not known
        # without reading the rows (a streamed query).
        self.rowcount = rowcount if rowcount is not None or table is None else table.num_rows

    @classmethod
    def of(cls, table: pa.Table, status: str | None = None,
           rowcount: int | None = None) -> Result:
        """A result holding an already computed table."""
        return cls(table=table, status=status or f"SELECT {table.num_rows}", rowcount=rowcount)

    @classmethod
    def message(cls, status: str, rowcount: int | None = None) -> Result:
        """A result with no rows, only a status (DDL, SET)."""
        return cls(status=status, rowcount=rowcount)

    @property
    def has_rows(self) -> bool:
        """Whether the statement returns rows (a query) rather than only a status."""
        return self._open is not None or self._table is not None

    def reader(self, batch_size: int = 100_000) -> pa.RecordBatchReader:
        """Stream the rows as Arrow record batches, without holding them all in memory."""
        if self._table is not None:
            return pa.RecordBatchReader.from_batches(self._table.schema,
                                                     self._table.to_batches(batch_size))
        if self._open is None:
            return pa.RecordBatchReader.from_batches(pa.schema([]), [])
        return self._open(batch_size)

    def arrow(self) -> pa.Table:
        """All rows as one Arrow table."""
        return self._table if self._table is not None else self.reader().read_all()

    def df(self) -> Any:
        """All rows as a pandas DataFrame."""
        return self.arrow().to_pandas()

    def pl(self) -> Any:
        """All rows as a polars DataFrame."""
        import polars as pl

        return pl.from_arrow(self.arrow())

    def rows(self) -> list[tuple[Any, ...]]:
        """All rows as tuples."""
        table = self.arrow()
        columns = [c.to_pylist() for c in table.columns]
        return list(zip(*columns, strict=True)) if columns else []

    def scalar(self) -> Any:
        """The first column of the first row (None when there is none)."""
        table = self.arrow()
        return table.column(0)[0].as_py() if table.num_rows and table.num_columns else None
