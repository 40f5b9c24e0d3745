"""Snapshots of a dataset: `SNAPSHOT SINCE / AS OF / BETWEEN` reads and `history_meta('t')`.

A snapshot id is a Delta version of the dataset's table. Version 0 is the empty table made when
the dataset was created; every committed batch (or revert) adds one version. The ends are
HEAD (the current version) and TAIL (-1: before the table existed).

- `SNAPSHOT SINCE s`: the rows added by the commits after s, up to HEAD.
- `SNAPSHOT AS OF s`: the table as it was at version s.
- `SNAPSHOT BETWEEN s AND e`: the rows added by the commits after s, up to and including e.

The lower bound is exclusive, as in AEP. So that the very first batch can be read (AEP's
reference skipped it), a range may start at the first batch's `parent_id` (0, the creation
version) or at TAIL: `SINCE 0`, `SINCE TAIL` and `BETWEEN TAIL AND HEAD` read every batch.
A snapshot id outside TAIL..HEAD is an error that names the valid range.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from distillery.lake import tables
from distillery.lake.catalog import DatasetRecord
from distillery.lake.datasets import Lake
from distillery.sql.errors import SnapshotError
from distillery.sql.values import Columns

TAIL = -1
HISTORY_COLUMNS: Columns = [
    ("snapshot_generation", "BIGINT"), ("made_current_at", "TIMESTAMP"),
    ("snapshot_id", "BIGINT"), ("parent_id", "BIGINT"), ("is_current_ancestor", "BOOLEAN"),
    ("is_current", "BOOLEAN"), ("output_record_count", "BIGINT"),
    ("output_byte_size", "BIGINT"),
]


def bound(value: Any, head: int, table: str) -> int:
    """A snapshot bound (number, numeric text, HEAD or TAIL) as a Delta version."""
    text = str(value).strip().upper() if value is not None else ""
    if text == "HEAD":
        return head
    if text == "TAIL":
        return TAIL
    try:
        version = int(text)
    except ValueError:
        raise SnapshotError(f"snapshot id {value!r} for table {table} is not a number, HEAD or "
                            "TAIL") from None
    if not TAIL <= version <= head:
        raise SnapshotError(f"snapshot {version} does not exist for table {table}: its "
                            f"snapshots are 0 to {head} (HEAD = {head}, TAIL = before 0); "
                            f"history_meta('{table}') lists them")
    return version


def snapshot_files(lake: Lake, ds: DatasetRecord, kind: str, values: list[Any]) -> list[str]:
    """The Parquet files holding the rows a SNAPSHOT clause of `kind` reads."""
    path = lake.path(ds)
    head = tables.version(path)
    start = bound(values[0], head, ds.table_name)
    if kind == "as_of":
        return tables.file_uris(path, start) if start >= 0 else []
    if kind == "since":
        return tables.files_between(path, start)
    if kind == "between":
        end = bound(values[1], head, ds.table_name)
        if end < start:
            raise SnapshotError(f"SNAPSHOT BETWEEN {start} AND {end} on table "
                                f"{ds.table_name}: the end comes before the start")
        return tables.files_between(path, start, end) if end >= 0 else []
    raise SnapshotError(f"unknown SNAPSHOT clause {kind!r}")


def history(lake: Lake, ds: DatasetRecord) -> list[dict[str, Any]]:
    """history_meta('t'): one row per commit after the table's creation, oldest first."""
    path = lake.path(ds)
    commits = sorted(tables.history(path), key=lambda c: int(c["version"]))
    head = max((int(c["version"]) for c in commits), default=0)
    batches = {b.snapshot: b for b in lake.catalog.batches(ds.id) if b.snapshot is not None}
    rows: list[dict[str, Any]] = []
    parent = 0
    for commit in commits:
        version = int(commit["version"])
        if version == 0 or commit.get("operation") == "CREATE TABLE":
            parent = version
            continue
        batch = batches.get(version)
        rows.append({
            "snapshot_generation": len(rows),
            "made_current_at": datetime.fromtimestamp(int(commit["timestamp"]) / 1000, UTC)
            .replace(tzinfo=None),
            "snapshot_id": version, "parent_id": parent, "is_current_ancestor": True,
            "is_current": version == head,
            "output_record_count": batch.output_records if batch else 0,
            "output_byte_size": _size(path, batch.files) if batch else 0,
        })
        parent = version
    return rows


def _size(path: Path, names: list[str]) -> int:
    total = 0
    for name in names:
        try:
            total += (path / name).stat().st_size
        except OSError:
            continue  # vacuumed since; the history still lists the commit
    return total
