"""File formats of exports: Parquet, CSV with a header, JSON lines; and their compressions.

Each part file is written through a `HashingWriter`, so its size and sha256 are known the
moment it is complete, without reading it back from storage.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from dataclasses import dataclass
from typing import IO, Any, Protocol

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from distillery.errors import ConfigError, DistilleryError

# format -> (accepted compressions, default compression, file extension)
FORMATS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "parquet": (("gzip", "snappy", "zstd", "none"), "gzip", "parquet"),
    "csv": (("none", "gzip"), "none", "csv"),
    "json": (("none", "gzip"), "none", "json"),
}
_ALIASES = {"jsonl": "json", "ndjson": "json", "json-lines": "json", "pq": "parquet"}
_ROW_GROUP = 256 * 1024


class FormatError(DistilleryError, ValueError):
    """Rows cannot be written in the chosen format (e.g. a nested field in a CSV)."""


@dataclass(frozen=True)
class FileFormat:
    """A format and compression, checked."""

    name: str
    compression: str

    @property
    def extension(self) -> str:
        """The part files' extension, e.g. `parquet`, `csv.gz`."""
        ext = FORMATS[self.name][2]
        return f"{ext}.gz" if self.name != "parquet" and self.compression == "gzip" else ext


def file_format(name: str | None = None, compression: str | None = None) -> FileFormat:
    """Check a format and compression (defaults: Parquet, gzip as the reference exports)."""
    fmt = _ALIASES.get((name or "parquet").lower(), (name or "parquet").lower())
    if fmt not in FORMATS:
        raise ConfigError(f"format {name!r} is not supported: use parquet, csv or json")
    allowed, default, _ = FORMATS[fmt]
    comp = (compression or default).lower()
    if comp == "uncompressed":
        comp = "none"
    if comp not in allowed:
        raise ConfigError(f"compression {compression!r} is not supported for {fmt}: use "
                          f"{', '.join(allowed)}")
    return FileFormat(fmt, comp)


class HashingWriter(io.RawIOBase):
    """A write-only stream that counts and hashes what passes through to `target`."""

    def __init__(self, target: IO[bytes]) -> None:
        super().__init__()
        self.target = target
        self.sha256 = hashlib.sha256()
        self.bytes = 0
        self._dropped = False

    def drop(self) -> None:
        """Send later writes nowhere: the part is abandoned, but its writer may still flush
        a footer when it is garbage-collected."""
        self._dropped = True

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self._dropped:
            return len(view)
        self.sha256.update(view)
        self.bytes += len(view)
        self.target.write(view)
        return len(view)

    def tell(self) -> int:
        return self.bytes


class PartWriter(Protocol):
    """Writes record batches into one open part file."""

    rows: int

    def write(self, batch: pa.RecordBatch) -> None:
        """Append rows."""

    def close(self) -> None:
        """Finish the file's format (footer, compression trailer); not the stream."""


def part_writer(fmt: FileFormat, schema: pa.Schema, out: HashingWriter) -> PartWriter:
    """A writer for one part file of `fmt` over `out`."""
    if fmt.name == "parquet":
        return _ParquetPart(out, schema, fmt.compression)
    stream: Any = out
    if fmt.compression == "gzip":
        stream = gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0)
    if fmt.name == "csv":
        return _CsvPart(stream, schema)
    return _JsonPart(stream)


class _ParquetPart:
    def __init__(self, out: HashingWriter, schema: pa.Schema, compression: str) -> None:
        self.rows = 0
        self._writer = pq.ParquetWriter(out, schema, compression=compression)

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch, row_group_size=_ROW_GROUP)
        self.rows += batch.num_rows

    def close(self) -> None:
        self._writer.close()


class _CsvPart:
    def __init__(self, stream: IO[bytes], schema: pa.Schema) -> None:
        self.rows = 0
        self._stream = stream
        self._writer = pacsv.CSVWriter(stream, csv_schema(schema))

    def write(self, batch: pa.RecordBatch) -> None:
        flat = pa.Table.from_batches([batch]).flatten()
        while any(pa.types.is_struct(t) for t in flat.schema.types):
            flat = flat.flatten()
        self._writer.write_table(flat)
        self.rows += batch.num_rows

    def close(self) -> None:
        self._writer.close()
        if isinstance(self._stream, gzip.GzipFile):
            self._stream.close()


class _JsonPart:
    def __init__(self, stream: IO[bytes]) -> None:
        self.rows = 0
        self._stream = stream

    def write(self, batch: pa.RecordBatch) -> None:
        import polars as pl

        if batch.num_rows:
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            frame.write_ndjson(self._stream)
        self.rows += batch.num_rows

    def close(self) -> None:
        if isinstance(self._stream, gzip.GzipFile):
            self._stream.close()


def csv_schema(schema: pa.Schema) -> pa.Schema:
    """The flat schema a CSV gets: structs become dotted columns; lists and maps cannot."""
    out: list[pa.Field] = []

    def visit(f: pa.Field, prefix: str) -> None:
        name = f"{prefix}{f.name}"
        if pa.types.is_struct(f.type):
            for child in f.type:
                visit(child, f"{name}.")
        elif pa.types.is_list(f.type) or pa.types.is_large_list(f.type) or \
                pa.types.is_map(f.type) or pa.types.is_binary(f.type):
            raise FormatError(f"field {name!r} is a {f.type} and cannot be written as CSV; "
                              "export this dataset as parquet or json, or select flat fields")
        else:
            out.append(pa.field(name, f.type))

    for f in schema:
        visit(f, "")
    return pa.schema(out)
