"""Batch ingestion: the only way data enters a dataset.

A batch is created (state `loading`), given data any number of times, then completed: its good
rows become one Delta commit (state `success`) or, when the share of bad rows passes the error
threshold, nothing is written (state `failed`). Diagnostics name the source, row, field and
code of every rejected row. Re-sending a batch id that already succeeded changes nothing.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa

from distillery.errors import BatchFailedError, IngestionError, SchemaError
from distillery.lake import readers, tables
from distillery.lake.catalog import BatchRecord, Catalog, DatasetRecord, now_iso
from distillery.lake.schema import Schema
from distillery.lake.validate import Problems, check, conform

DEFAULT_ERROR_THRESHOLD = 0.05
MAX_DIAGNOSTICS = 100_000
MAX_RECORDS = 1_000
BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _with_event_ids(table: pa.Table, schema: Schema) -> pa.Table:
    """Experience events need an `_id`; rows that come without one get a random UUID."""
    if schema.cls != "event" or "_id" in table.column_names:
        return table
    return table.append_column("_id", uuid4_strings(table.num_rows))


def uuid4_strings(n: int, random_bytes: bytes | None = None) -> pa.Array:
    """`n` random UUIDs (version 4) as text, built without a Python loop per value."""
    raw = np.frombuffer(random_bytes or os.urandom(16 * n), dtype=np.uint8)[: 16 * n]
    raw = raw.reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    nibbles = np.stack([raw >> 4, raw & 0x0F], axis=2).reshape(n, 32)
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    text[:, [i for i in range(36) if i not in (8, 13, 18, 23)]] = _HEX[nibbles]
    offsets = np.arange(0, 36 * n + 1, 36, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets),
                                                  pa.py_buffer(text.tobytes())])


def check_batch_id(batch_id: str) -> str:
    """Batch ids name files, so they may hold only letters, digits and `_.:-`."""
    if not BATCH_ID.match(batch_id):
        raise IngestionError(f"batch id {batch_id!r} is invalid: use 1-128 letters, digits, "
                             "'_', '.', ':' or '-', starting with a letter or digit")
    return batch_id


class Batch:
    """One batch being loaded into one dataset. Use as a context manager, or call
    `add` then `complete` (or `abandon`)."""

    def __init__(self, catalog: Catalog, dataset: DatasetRecord, record: BatchRecord,
                 table_path: Path, *, mapping: dict[str, str] | None = None,
                 done: bool = False, overwrite: bool = False,
                 on_commit: Callable[[DatasetRecord, BatchRecord], None] | None = None) -> None:
        self.catalog, self.dataset, self.record = catalog, dataset, record
        self.table_path, self.mapping, self.done = table_path, mapping or {}, done
        self.overwrite = overwrite
        self._on_commit = on_commit
        self._writer = tables.FileWriter(table_path, record.id, dataset.schema.to_arrow())
        self._diagnostics: list[tuple[Any, ...]] = []
        self._codes: Counter[str] = Counter()
        self._fatal: str | None = None

    @property
    def id(self) -> str:
        """The batch id."""
        return self.record.id

    def add(self, data: Any, *, source: str | None = None,
            file_format: str | None = None) -> None:
        """Validate `data` (a file path, Arrow table, pandas/polars frame) and stage its good
        rows. A file that cannot be read, or a column the schema lacks, fails the batch."""
        if self.done or self._fatal:
            return
        self.record.input_files += 1 if isinstance(data, str | Path) else 0
        self.record.input_bytes += readers.input_bytes(data)
        try:
            for chunk in readers.chunks(data, source, file_format):
                self._add_chunk(chunk)
        except (readers.UnreadableFileError, SchemaError) as exc:
            code = ("UNREADABLE_FILE" if isinstance(exc, readers.UnreadableFileError)
                    else "SCHEMA_MISMATCH")
            self._fatal = f"{code}: {exc}"
            self._diagnostics.append((code, source or str(data)[:500], None, "", str(exc), None))
            self._codes[code] += 1

    def _add_chunk(self, chunk: readers.Chunk) -> None:
        for row, message, raw in chunk.bad_lines or ():
            self._record_problem("UNPARSABLE_ROW", chunk.source, row, "", message, raw)
        self.record.input_records += len(chunk.bad_lines or ()) + chunk.table.num_rows
        self.record.failed_records += len(chunk.bad_lines or ())
        table = _with_event_ids(self._apply_mapping(chunk.table), self.dataset.schema)
        problems = Problems(table.num_rows)
        conformed = conform(table, self.dataset.schema, problems)
        check(conformed, self.dataset.schema, problems)
        if problems.bad.any():
            self._collect(chunk, problems)
            conformed = conformed.filter(pa.array(~problems.bad))
        self.record.failed_records += int(problems.bad.sum())
        self._writer.write(conformed)

    def _apply_mapping(self, table: pa.Table) -> pa.Table:
        if not self.mapping:
            return table
        missing = [s for s in self.mapping if s not in table.column_names]
        if missing:
            raise SchemaError(f"mapping names source column(s) {missing} that the input lacks "
                              f"(it has {table.column_names})")
        keep = [c for c in table.column_names if c in self.mapping]
        return table.select(keep).rename_columns([self.mapping[c] for c in keep])

    def _collect(self, chunk: readers.Chunk, problems: Problems) -> None:
        rows = np.flatnonzero(problems.bad)
        room = max(0, MAX_RECORDS - len(self._diagnostics))
        records = chunk.table.take(pa.array(rows[:room])).to_pylist() if room else []
        for i, r in enumerate(rows.tolist()):
            code, path, message = problems.codes[r]
            raw = json.dumps(records[i], default=str) if i < len(records) else None
            self._record_problem(code, chunk.source, chunk.row_number(r), path, message, raw)

    def _record_problem(self, code: str, source: str, row: int | None, path: str,
                        message: str, raw: str | None) -> None:
        self._codes[code] += 1
        if len(self._diagnostics) < MAX_DIAGNOSTICS:
            self._diagnostics.append((code, source, row, path, message, raw))

    def complete(self) -> BatchRecord:
        """Commit the staged rows as one snapshot, or fail the batch and write nothing.

        Raises:
            BatchFailedError: a file was unreadable, the data did not fit the schema, or the
                share of bad rows passed the error threshold.
        """
        if self.done:
            return self.record
        rec = self.record
        self.catalog.update_batch(rec.id, state="staging")
        staged = self._writer.close()
        failure = self._failure()
        if failure:
            self._writer.discard()
            self._finish("failed", failure)
            raise BatchFailedError(f"batch {rec.id} into dataset {self.dataset.name!r} failed: "
                                   f"{failure}", batch_id=rec.id)
        remove = (tables.file_names(self.table_path) if self.overwrite
                  else self.catalog.batch(rec.replaces).files if rec.replaces else [])
        try:
            rec.snapshot = tables.commit(self.table_path, self.dataset.schema.to_arrow(), rec.id,
                                         staged, remove)
        except Exception:
            self._writer.discard()
            self._finish("failed", "the Delta commit failed")
            raise
        rec.files = [f.name for f in staged]
        rec.output_records = sum(f.rows for f in staged)
        self.catalog.update_dataset(self.dataset.id, version=rec.snapshot)
        if rec.replaces:
            self.catalog.update_batch(rec.replaces, state="replaced")
        if self.overwrite:
            self._mark_overwritten()
        self._finish("success", self._summary())
        if self._on_commit:
            self._on_commit(self.dataset, rec)
        return rec

    def _mark_overwritten(self) -> None:
        with self.catalog.connect() as con:
            con.execute("UPDATE batches SET state = 'replaced', message = ? WHERE dataset_id = ?"
                        " AND state = 'success' AND id != ?",
                        (f"overwritten by batch {self.record.id}", self.dataset.id,
                         self.record.id))

    def abandon(self) -> None:
        """Drop everything staged; the dataset is unchanged."""
        if self.done:
            return
        self._writer.discard()
        self._finish("abandoned", "abandoned by the client")

    def _failure(self) -> str | None:
        rec = self.record
        if self._fatal:
            return self._fatal
        if rec.input_records and rec.failed_records / rec.input_records > rec.error_threshold:
            return (f"{rec.failed_records} of {rec.input_records} records failed "
                    f"({rec.failed_records / rec.input_records:.1%}), above the error threshold "
                    f"of {rec.error_threshold:.1%}; {self._summary()}")
        return None

    def _summary(self) -> str:
        if not self._codes:
            return ""
        return "errors: " + ", ".join(f"{c} x{n}" for c, n in self._codes.most_common())

    def _finish(self, state: str, message: str) -> None:
        rec = self.record
        rec.state, rec.message, rec.completed_at = state, message, now_iso()
        self.catalog.update_batch(
            rec.id, state=state, message=message, completed_at=rec.completed_at,
            input_records=rec.input_records, output_records=rec.output_records,
            failed_records=rec.failed_records, input_bytes=rec.input_bytes,
            input_files=rec.input_files, snapshot=rec.snapshot, files=rec.files,
        )
        self.catalog.replace_batch_errors(rec.id, self._diagnostics)
        self.done = True

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.complete()
        elif not self.done:
            self.abandon()
