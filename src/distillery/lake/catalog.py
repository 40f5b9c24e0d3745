"""The catalog: a SQLite file per sandbox that records datasets, batches and diagnostics.

The data itself lives in Delta tables; the catalog holds what a data scientist asks about it
(names, schemas, labels, batch states and metrics, row-level errors). Migrations are numbered
SQL files in `migrations/`, applied in order and recorded by file name (`lake.migrate`), so
later features add tables without touching earlier ones, and a home made before a migration
existed gets it whatever its number.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from distillery.errors import NotFoundError
from distillery.lake import migrate
from distillery.lake.schema import Schema


def now_iso() -> str:
    """The current UTC time as ISO-8601 text, the catalog's one time format."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass
class DatasetRecord:
    """A dataset as the catalog knows it."""

    id: str
    name: str
    table_name: str
    schema: Schema
    profile_enabled: bool = False
    tags: dict[str, Any] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    description: str = ""
    version: int = -1
    created_at: str = ""


@dataclass
class BatchRecord:
    """A batch: one unit of ingestion into one dataset, with its state and metrics."""

    id: str
    dataset_id: str
    state: str
    created_at: str
    error_threshold: float
    completed_at: str | None = None
    input_records: int = 0
    output_records: int = 0
    failed_records: int = 0
    input_bytes: int = 0
    input_files: int = 0
    snapshot: int | None = None
    files: list[str] = field(default_factory=list)
    replaces: str | None = None
    message: str = ""


class Catalog:
    """Typed access to one sandbox's catalog file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # What this open applied: empty unless the catalog was new or behind the code.
        self.migrated: list[str] = migrate.apply(path, migrate.bundled(), now_iso())

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction: committed on success, rolled back on error."""
        con = sqlite3.connect(self.path, timeout=30)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA foreign_keys = ON")
        try:
            with con:
                yield con
        finally:
            con.close()

    def migrations(self) -> dict[str, str]:
        """The migrations applied to this catalog: file name -> when."""
        return migrate.applied(self.path)

    # Datasets -------------------------------------------------------------------------------

    def add_dataset(self, rec: DatasetRecord) -> None:
        """Record a new dataset."""
        with self.connect() as con:
            con.execute(
                "INSERT INTO datasets (id, name, table_name, schema_json, profile_enabled,"
                " tags_json, labels_json, description, version, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rec.id, rec.name, rec.table_name, rec.schema.to_json(), int(rec.profile_enabled),
                 json.dumps(rec.tags), json.dumps(rec.labels), rec.description, rec.version,
                 rec.created_at or now_iso()),
            )

    def datasets(self) -> list[DatasetRecord]:
        """Every dataset, oldest first."""
        with self.connect() as con:
            rows = con.execute("SELECT * FROM datasets ORDER BY created_at, name").fetchall()
        return [_dataset(r) for r in rows]

    def find_dataset(self, key: str) -> DatasetRecord | None:
        """The dataset whose id, name or table name is `key`, if any."""
        with self.connect() as con:
            row = con.execute(
                "SELECT * FROM datasets WHERE id = ? OR name = ? OR lower(table_name) = lower(?)",
                (key, key, key),
            ).fetchone()
        return _dataset(row) if row else None

    def dataset(self, key: str) -> DatasetRecord:
        """The dataset whose id, name or table name is `key`; NotFoundError otherwise."""
        rec = self.find_dataset(key)
        if rec is None:
            raise NotFoundError(f"dataset {key!r} does not exist in this sandbox")
        return rec

    def update_dataset(self, dataset_id: str, **values: Any) -> None:
        """Change columns of one dataset (tags, labels, profile_enabled, version, ...)."""
        encoded = {
            ("tags_json" if k == "tags" else "labels_json" if k == "labels" else k):
                (json.dumps(v) if k in ("tags", "labels") else v)
            for k, v in values.items()
        }
        sets = ", ".join(f"{k} = ?" for k in encoded)
        with self.connect() as con:
            con.execute(f"UPDATE datasets SET {sets} WHERE id = ?", (*encoded.values(), dataset_id))

    def remove_dataset(self, dataset_id: str) -> None:
        """Forget a dataset and its batches."""
        with self.connect() as con:
            con.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))

    # Batches --------------------------------------------------------------------------------

    def add_batch(self, rec: BatchRecord) -> None:
        """Record a new batch (state loading)."""
        with self.connect() as con:
            con.execute(
                "INSERT INTO batches (id, dataset_id, state, created_at, error_threshold, replaces)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (rec.id, rec.dataset_id, rec.state, rec.created_at, rec.error_threshold,
                 rec.replaces),
            )

    def find_batch(self, batch_id: str) -> BatchRecord | None:
        """The batch with that id, if any."""
        with self.connect() as con:
            row = con.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone()
        return _batch(row) if row else None

    def batch(self, batch_id: str) -> BatchRecord:
        """The batch with that id; NotFoundError otherwise."""
        rec = self.find_batch(batch_id)
        if rec is None:
            raise NotFoundError(f"batch {batch_id!r} does not exist in this sandbox")
        return rec

    def batches(self, dataset_id: str | None = None) -> list[BatchRecord]:
        """Batches of one dataset (or all), oldest first."""
        with self.connect() as con:
            if dataset_id is None:
                rows = con.execute("SELECT * FROM batches ORDER BY created_at").fetchall()
            else:
                rows = con.execute("SELECT * FROM batches WHERE dataset_id = ? ORDER BY created_at",
                                   (dataset_id,)).fetchall()
        return [_batch(r) for r in rows]

    def update_batch(self, batch_id: str, **values: Any) -> None:
        """Change columns of one batch (state, metrics, snapshot, files, message)."""
        encoded = {("files_json" if k == "files" else k): (json.dumps(v) if k == "files" else v)
                   for k, v in values.items()}
        sets = ", ".join(f"{k} = ?" for k in encoded)
        with self.connect() as con:
            con.execute(f"UPDATE batches SET {sets} WHERE id = ?", (*encoded.values(), batch_id))

    def replace_batch_errors(self, batch_id: str, errors: Iterable[tuple[Any, ...]]) -> None:
        """Store a batch's diagnostics: (code, source, row, field, message, record) tuples."""
        with self.connect() as con:
            con.execute("DELETE FROM batch_errors WHERE batch_id = ?", (batch_id,))
            con.executemany(
                "INSERT INTO batch_errors (batch_id, code, source, row, field, message, record)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((batch_id, *e) for e in errors),
            )

    def batch_errors(self, batch_id: str, limit: int | None = None) -> list[dict[str, Any]]:
        """A batch's diagnostics in row order."""
        sql = ("SELECT code, source, row, field, message, record FROM batch_errors"
               " WHERE batch_id = ? ORDER BY source, row")
        with self.connect() as con:
            if limit is None:
                rows = con.execute(sql, (batch_id,)).fetchall()
            else:
                rows = con.execute(sql + " LIMIT ?", (batch_id, limit)).fetchall()
        return [dict(r) for r in rows]


def _dataset(row: sqlite3.Row) -> DatasetRecord:
    return DatasetRecord(
        id=row["id"], name=row["name"], table_name=row["table_name"],
        schema=Schema.from_dict(json.loads(row["schema_json"])),
        profile_enabled=bool(row["profile_enabled"]), tags=json.loads(row["tags_json"]),
        labels=json.loads(row["labels_json"]), description=row["description"],
        version=row["version"], created_at=row["created_at"],
    )


def _batch(row: sqlite3.Row) -> BatchRecord:
    data = dict(row)
    data["files"] = json.loads(data.pop("files_json"))
    return BatchRecord(**data)
