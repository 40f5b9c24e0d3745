"""Delta Lake storage for datasets: staged Parquet files, one commit per batch.

A batch writes its Parquet files into the table folder under names no commit refers to yet,
then commits them with one Delta transaction. Until that commit every reader sees the previous
version; a process killed mid-batch leaves only unreferenced files behind (removed by
`vacuum`). Each commit carries the batch id in its commit info, so the table's own log says
which batches it holds even if the catalog missed the last update.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake.transaction import AddAction, RemoveAction

BATCH_KEY = "distillery.batch"
_ROW_GROUP = 256 * 1024


def _statistics_columns(schema: pa.Schema) -> list[str] | bool:
    """Min/max statistics for flat, non-text columns and eventType: what readers prune on.
    Statistics of long id strings cost time and prune nothing."""
    cols = [f.name for f in schema if f.name == "eventType"
            or not (pa.types.is_string(f.type) or pa.types.is_nested(f.type))]
    return cols or False


@dataclass(frozen=True)
class StagedFile:
    """A Parquet file written for a batch but not yet committed."""

    name: str
    size: int
    rows: int
    mtime_ms: int

    def action(self) -> AddAction:
        """The Delta add action that makes the file part of the table."""
        return AddAction(self.name, self.size, {}, self.mtime_ms, True,
                         json.dumps({"numRecords": self.rows}))


def create(path: Path, schema: pa.Schema) -> None:
    """Create an empty Delta table with `schema` at `path`."""
    DeltaTable.create(str(path), schema=schema)


class FileWriter:
    """Writes one batch's rows into Parquet files in the table folder, not yet committed.

    Encoding Parquet costs more than validating the rows, so the writer works in background
    lanes (one thread and one open file each): `write` hands each lane a slice and returns
    while the caller validates the next chunk. A lane holds at most one pending slice, which
    bounds memory.
    """

    def __init__(self, path: Path, batch_id: str, schema: pa.Schema, lanes: int = 2,
                 target_rows: int = 2_000_000) -> None:
        self.path, self.batch_id, self.schema = path, batch_id, schema
        self._lanes = [_Lane(self, i, target_rows) for i in range(max(1, lanes))]
        self._next = 0

    def write(self, table: pa.Table) -> None:
        """Append rows (already conformed to the schema)."""
        if table.num_rows == 0:
            return
        used = min(len(self._lanes), max(1, table.num_rows // _ROW_GROUP))
        step = -(-table.num_rows // used)
        for i in range(used):
            # Round robin, so that small chunks in a row still keep every lane busy.
            lane = self._lanes[(self._next + i) % len(self._lanes)]
            lane.submit(table.slice(i * step, step))
        self._next = (self._next + used) % len(self._lanes)

    def close(self) -> list[StagedFile]:
        """Finish every file and return them all."""
        files: list[StagedFile] = []
        for lane in self._lanes:
            files += lane.finish()
        return sorted(files, key=lambda f: f.name)

    def discard(self) -> None:
        """Delete every file this writer made (the batch failed or was abandoned)."""
        for lane in self._lanes:
            for f in lane.finish(raise_errors=False):
                (self.path / f.name).unlink(missing_ok=True)
        for stale in self.path.glob(f"part-{self.batch_id}-*.parquet"):
            stale.unlink(missing_ok=True)


class _Lane:
    """One background thread writing its own sequence of files."""

    def __init__(self, owner: FileWriter, number: int, target_rows: int) -> None:
        self.owner, self.number, self.target_rows = owner, number, target_rows
        self.files: list[StagedFile] = []
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-lane")
        self._pending: Future[None] | None = None
        self._writer: pq.ParquetWriter | None = None
        self._name = ""
        self._rows = 0
        self._closed = False

    def submit(self, part: pa.Table) -> None:
        if self._pending is not None:
            self._pending.result()
        self._pending = self._pool.submit(self._write, part)

    def finish(self, raise_errors: bool = True) -> list[StagedFile]:
        if self._closed:
            return self.files
        self._closed = True
        try:
            if self._pending is not None:
                self._pending.result()
        except Exception:
            if raise_errors:
                raise
        finally:
            self._pending = None
            self._pool.submit(self._close_file).result()
            self._pool.shutdown()
        return self.files

    def _write(self, part: pa.Table) -> None:
        if self._writer is None:
            self._name = f"part-{self.owner.batch_id}-{self.number}{len(self.files):04d}.parquet"
            self._writer = pq.ParquetWriter(self.owner.path / self._name, self.owner.schema,
                                            compression="snappy",
                                            write_statistics=_statistics_columns(
                                                self.owner.schema))
            self._rows = 0
        self._writer.write_table(part, row_group_size=_ROW_GROUP)
        self._rows += part.num_rows
        if self._rows >= self.target_rows:
            self._close_file()

    def _close_file(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        st = os.stat(self.owner.path / self._name)
        self.files.append(StagedFile(self._name, st.st_size, self._rows,
                                     int(st.st_mtime * 1000)))


def commit(path: Path, schema: pa.Schema, batch_id: str, add: Iterable[StagedFile],
           remove: Iterable[str] = ()) -> int:
    """Commit staged files (and removals, for replay and revert) as one version; return it."""
    now = int(time.time() * 1000)
    actions: list[AddAction | RemoveAction] = [f.action() for f in add]
    actions += [RemoveAction(name, True, now) for name in remove]
    table = DeltaTable(str(path))
    table.create_write_transaction(
        actions, mode="append", schema=schema,
        commit_properties=CommitProperties(custom_metadata={BATCH_KEY: batch_id}),
    )
    table.update_incremental()
    return table.version()


def committed_version(path: Path, batch_id: str) -> int | None:
    """The table version that committed `batch_id`, if the table's log holds one."""
    for entry in DeltaTable(str(path)).history():
        if entry.get(BATCH_KEY) == batch_id:
            return int(entry["version"])
    return None


def file_uris(path: Path, version: int | None = None) -> list[str]:
    """Absolute paths of the Parquet files that make up `version` (default: the latest)."""
    return DeltaTable(str(path), version=version).file_uris()


def files_between(path: Path, start: int, end: int | None = None) -> list[str]:
    """Files present at version `end` (default: latest) that were not at version `start`:
    what the commits after `start` added (the rows of `SNAPSHOT SINCE start`)."""
    before = set(file_uris(path, start)) if start >= 0 else set()
    return [f for f in file_uris(path, end) if f not in before]


def file_names(path: Path) -> list[str]:
    """Names (relative to the table folder) of the files of the latest version."""
    root = str(path.resolve())
    return [Path(uri).resolve().relative_to(root).as_posix() for uri in file_uris(path)]


def version(path: Path) -> int:
    """The table's latest version."""
    return DeltaTable(str(path)).version()


def history(path: Path) -> list[dict[str, Any]]:
    """The table's commits, newest first, as delta-rs reports them."""
    return DeltaTable(str(path)).history()
