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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake.transaction import AddAction, RemoveAction

BATCH_KEY = "distillery.batch"
_ROW_GROUP = 256 * 1024


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
    """Writes one batch's rows into Parquet files in the table folder, not yet committed."""

    def __init__(self, path: Path, batch_id: str, schema: pa.Schema,
                 target_rows: int = 2_000_000) -> None:
        self.path, self.batch_id, self.schema = path, batch_id, schema
        self.target_rows = target_rows
        self.files: list[StagedFile] = []
        self._writer: pq.ParquetWriter | None = None
        self._name = ""
        self._rows = 0

    def write(self, table: pa.Table) -> None:
        """Append rows (already conformed to the schema)."""
        if table.num_rows == 0:
            return
        if self._writer is None:
            self._name = f"part-{self.batch_id}-{len(self.files):05d}.parquet"
            self._writer = pq.ParquetWriter(self.path / self._name, self.schema,
                                            compression="snappy")
            self._rows = 0
        self._writer.write_table(table, row_group_size=_ROW_GROUP)
        self._rows += table.num_rows
        if self._rows >= self.target_rows:
            self._close_file()

    def close(self) -> list[StagedFile]:
        """Finish the last file and return every staged file."""
        self._close_file()
        return self.files

    def discard(self) -> None:
        """Delete every file this writer made (the batch failed or was abandoned)."""
        self._close_file()
        for f in self.files:
            (self.path / f.name).unlink(missing_ok=True)
        self.files = []

    def _close_file(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        st = os.stat(self.path / self._name)
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
