"""Read what a batch is given (files, Arrow, pandas, polars) as Arrow chunks.

Each chunk says which source it came from and the row number of its first row, so diagnostics
can name the file and row. Files stream in chunks, so a large file never sits in memory whole.
CSV columns are read as text and typed by validation, so one bad cell rejects one row, not the
file. A JSON-lines file that Arrow cannot parse is read line by line to find the bad lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from distillery.errors import IngestionError

# Chunks small enough that validating one overlaps writing the one before (see tables.py).
CHUNK_ROWS = 256 * 1024
FILE_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv",
                ".json": "json", ".jsonl": "json", ".ndjson": "json"}


@dataclass
class Chunk:
    """Rows from one source; `first_row` is the 1-based row number of the first row."""

    source: str
    table: pa.Table
    first_row: int
    bad_lines: list[tuple[int, str, str]] | None = None  # (row, message, raw text)
    row_numbers: list[int] | None = None  # when the rows are not contiguous

    def row_number(self, index: int) -> int:
        """The 1-based row number in the source of the chunk's row `index`."""
        return self.row_numbers[index] if self.row_numbers else self.first_row + index


class UnreadableFileError(IngestionError):
    """A whole file could not be read (missing, not the format its name says, corrupt)."""


def input_bytes(data: Any) -> int:
    """Size of one input: bytes on disk for files, in memory for frames."""
    if isinstance(data, str | Path):
        try:
            return Path(data).stat().st_size
        except OSError:
            return 0
    if isinstance(data, pa.Table | pa.RecordBatch):
        return int(data.nbytes)
    return 0


def chunks(data: Any, source: str | None = None, file_format: str | None = None
           ) -> Iterator[Chunk]:
    """Yield the rows of one input as Arrow chunks of at most CHUNK_ROWS rows."""
    if isinstance(data, str | Path):
        for chunk in _file_chunks(Path(data), file_format, source):
            if source:
                # A file fetched from storage is reported under its URL, not the local copy.
                chunk.source = source
            yield chunk
        return
    name = source or type(data).__name__
    if _is_stream(data):
        yield from _stream_chunks(data, name)
        return
    table = to_arrow(data)
    for offset in range(0, max(table.num_rows, 1), CHUNK_ROWS):
        yield Chunk(name, table.slice(offset, CHUNK_ROWS), offset + 1)


def _is_stream(data: Any) -> bool:
    module = type(data).__module__
    return isinstance(data, pa.RecordBatchReader) or (
        hasattr(data, "__arrow_c_stream__") and not isinstance(data, pa.Table)
        and not module.startswith(("pandas", "polars")))


def _stream_chunks(data: Any, name: str) -> Iterator[Chunk]:
    """Regroup a stream's record batches into chunks, never holding the whole stream."""
    reader = data if isinstance(data, pa.RecordBatchReader) else \
        pa.RecordBatchReader.from_stream(data)
    pending: list[pa.RecordBatch] = []
    rows = 0
    first = 1
    for batch in reader:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= CHUNK_ROWS:
            yield Chunk(name, pa.Table.from_batches(pending, reader.schema), first)
            first += rows
            pending, rows = [], 0
    if pending or first == 1:
        yield Chunk(name, pa.Table.from_batches(pending, reader.schema), first)


def as_stream(data: Any) -> pa.RecordBatchReader | pa.Table:
    """`data` as something with an Arrow `.schema` that `chunks` can read once."""
    if _is_stream(data):
        return data if isinstance(data, pa.RecordBatchReader) else \
            pa.RecordBatchReader.from_stream(data)
    return to_arrow(data)


def to_arrow(data: Any) -> pa.Table:
    """An Arrow table from Arrow, pandas, polars or any Arrow-stream-exporting object."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    module = type(data).__module__
    if module.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if module.startswith("polars"):
        return data.to_arrow()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        # pa.array infers the struct type from every row; Table.from_pylist only from the first.
        return pa.Table.from_struct_array(pa.array(data)) if data else pa.table({})
    raise IngestionError(f"cannot ingest a {type(data).__name__}: give a file path, an Arrow "
                         "table, a pandas or polars frame, or a list of dicts")


def detect_format(path: Path, file_format: str | None = None) -> str:
    """The file format from an explicit option or the file's suffix."""
    fmt = file_format or FILE_FORMATS.get(path.suffix.lower())
    if fmt not in ("parquet", "csv", "json"):
        raise UnreadableFileError(f"file {path}: unknown format (suffix {path.suffix!r}); "
                                  "use .parquet, .csv or .json/.jsonl, or name the format")
    return fmt


def _file_chunks(path: Path, file_format: str | None, source: str | None = None
                 ) -> Iterator[Chunk]:
    name = source or str(path)
    if not path.is_file():
        raise UnreadableFileError(f"file {name} does not exist or is not a file")
    fmt = detect_format(path, file_format)
    try:
        if fmt == "parquet":
            yield from _parquet(path)
        elif fmt == "csv":
            yield from _csv(path)
        else:
            yield from _json(path)
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise UnreadableFileError(f"file {name} cannot be read as {fmt}: "
                                  f"{str(exc).replace(str(path), name)}") from exc


def _parquet(path: Path) -> Iterator[Chunk]:
    pf = pq.ParquetFile(path)
    row = 1
    for batch in pf.iter_batches(batch_size=CHUNK_ROWS):
        yield Chunk(str(path), pa.Table.from_batches([batch]), row)
        row += batch.num_rows
    if row == 1:
        yield Chunk(str(path), pf.schema_arrow.empty_table(), 1)


def _csv(path: Path) -> Iterator[Chunk]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    header = pacsv.open_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter),
                            read_options=pacsv.ReadOptions(block_size=1 << 16)).schema.names
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=64 << 20),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()),
                                             strings_can_be_null=True),
    )
    row = 1
    for batch in reader:
        yield Chunk(str(path), pa.Table.from_batches([batch]), row)
        row += batch.num_rows


def _json(path: Path) -> Iterator[Chunk]:
    try:
        table = pajson.read_json(path)
    except pa.ArrowInvalid:
        yield _json_by_line(path)
        return
    for offset in range(0, max(table.num_rows, 1), CHUNK_ROWS):
        yield Chunk(str(path), table.slice(offset, CHUNK_ROWS), offset + 1)


def _json_by_line(path: Path) -> Chunk:
    """Parse line by line to name the bad lines; the good ones are typed by Arrow."""
    good: list[bytes] = []
    bad: list[tuple[int, str, str]] = []
    rows: list[int] = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
                if not isinstance(value, dict):
                    raise ValueError("a JSON object is required")
            except ValueError as exc:
                bad.append((number, f"line {number} is not a JSON object: {exc}",
                            line.decode("utf-8", "replace")[:1000]))
                continue
            good.append(line if line.endswith(b"\n") else line + b"\n")
            rows.append(number)
    table = pajson.read_json(pa.BufferReader(b"".join(good))) if good else pa.table({})
    return Chunk(str(path), table, 1, bad_lines=bad, row_numbers=rows)
