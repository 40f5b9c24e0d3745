"""The catalog tables of dataflows (migration 003): definitions, runs, ingested files, leases.

All access goes through `platform.catalog.connect()`, one short transaction per call.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field, replace
from typing import Any

from distillery.errors import AlreadyExistsError, NotFoundError
from distillery.lake.catalog import Catalog, now_iso
from distillery.lake.runs import RunTable


@dataclass
class DataflowRecord:
    """A saved dataflow: its kind, spec, schedule and what it remembers between runs."""

    name: str
    kind: str
    spec: dict[str, Any]
    schedule: str | None = None
    enabled: bool = True
    next_run_at: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""


@dataclass
class RunRecord:
    """One run of a dataflow (or of an unsaved export): state, timing and metrics."""

    id: str
    dataflow: str | None
    kind: str
    state: str
    started_at: str
    trigger: str = "manual"
    finished_at: str | None = None
    duration_s: float | None = None
    rows: int = 0
    bytes: int = 0
    files: int = 0
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


_STARTED = ("id", "dataflow", "kind", "state", "trigger", "started_at", "details")
_FINISHED = ("state", "finished_at", "duration_s", "rows", "bytes", "files", "error", "details")


@dataclass
class FileState:
    """What a source dataflow remembers of one file it ingested."""

    url: str
    fingerprint: str
    batch_id: str
    run_id: str
    state: str
    rows: int = 0
    message: str = ""


class FlowStore:
    """Typed access to the dataflow tables of one sandbox's catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._runs = RunTable(catalog, "dataflow_runs", RunRecord, "dataflow run",
                              order="started_at DESC, id DESC")

    # Dataflows ------------------------------------------------------------------------------

    def add_dataflow(self, rec: DataflowRecord) -> DataflowRecord:
        """Save a new dataflow; AlreadyExistsError if the name is taken."""
        rec.created_at = rec.updated_at = now_iso()
        try:
            with self.catalog.connect() as con:
                con.execute(
                    "INSERT INTO dataflows (name, kind, spec_json, schedule, enabled,"
                    " next_run_at, state_json, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (rec.name, rec.kind, json.dumps(rec.spec), rec.schedule, int(rec.enabled),
                     rec.next_run_at, json.dumps(rec.state), rec.created_at, rec.updated_at))
        except sqlite3.IntegrityError:
            raise AlreadyExistsError(f"dataflow {rec.name!r} exists already") from None
        return rec

    def find_dataflow(self, name: str) -> DataflowRecord | None:
        """The dataflow with that name, if any."""
        with self.catalog.connect() as con:
            row = con.execute("SELECT * FROM dataflows WHERE name = ?", (name,)).fetchone()
        return _dataflow(row) if row else None

    def dataflow(self, name: str) -> DataflowRecord:
        """The dataflow with that name; NotFoundError otherwise."""
        rec = self.find_dataflow(name)
        if rec is None:
            raise NotFoundError(f"dataflow {name!r} does not exist in this sandbox")
        return rec

    def dataflows(self) -> list[DataflowRecord]:
        """Every dataflow, by name."""
        with self.catalog.connect() as con:
            rows = con.execute("SELECT * FROM dataflows ORDER BY name").fetchall()
        return [_dataflow(r) for r in rows]

    def update_dataflow(self, name: str, **values: Any) -> None:
        """Change columns of a dataflow (spec, schedule, enabled, next_run_at, state)."""
        encoded = {(f"{k}_json" if k in ("spec", "state") else k):
                   (json.dumps(v) if k in ("spec", "state") else v) for k, v in values.items()}
        encoded["updated_at"] = now_iso()
        sets = ", ".join(f"{k} = ?" for k in encoded)
        with self.catalog.connect() as con:
            con.execute(f"UPDATE dataflows SET {sets} WHERE name = ?", (*encoded.values(), name))

    def remove_dataflow(self, name: str) -> None:
        """Forget a dataflow, its runs, file states and lease."""
        self.dataflow(name)
        with self.catalog.connect() as con:
            for table in ("dataflow_runs", "dataflow_files", "dataflow_leases"):
                con.execute(f"DELETE FROM {table} WHERE dataflow = ?", (name,))
            con.execute("DELETE FROM dataflows WHERE name = ?", (name,))

    # Runs -----------------------------------------------------------------------------------

    def start_run(self, rec: RunRecord) -> None:
        """Record a run as running (a retried run id starts over)."""
        self._runs.start(replace(rec, state="running"), _STARTED,
                         restart=("finished_at", "duration_s", "error"))

    def finish_run(self, rec: RunRecord) -> None:
        """Store a run's outcome and metrics."""
        self._runs.save(rec, _FINISHED)

    def find_run(self, run_id: str) -> RunRecord | None:
        """The run with that id, if any."""
        return self._runs.find(run_id)

    def run(self, run_id: str) -> RunRecord:
        """The run with that id; NotFoundError otherwise."""
        return self._runs.get(run_id)

    def runs(self, dataflow: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """Runs of one dataflow (or all), newest first."""
        return self._runs.select({"dataflow": dataflow}, limit)

    def fail_stale_runs(self, dataflow: str, current: str, message: str) -> None:
        """Mark runs left `running` by a process that stopped (all but `current`) as failed."""
        with self.catalog.connect() as con:
            con.execute("UPDATE dataflow_runs SET state = 'failed', error = ?, finished_at = ?"
                        " WHERE dataflow = ? AND state = 'running' AND id != ?",
                        (message, now_iso(), dataflow, current))

    # Source files ---------------------------------------------------------------------------

    def files(self, dataflow: str) -> dict[str, FileState]:
        """The files a source dataflow has seen, by URL."""
        with self.catalog.connect() as con:
            rows = con.execute("SELECT url, fingerprint, batch_id, run_id, state, rows, message"
                               " FROM dataflow_files WHERE dataflow = ?", (dataflow,)).fetchall()
        return {r["url"]: FileState(**dict(r)) for r in rows}

    def set_file(self, dataflow: str, f: FileState) -> None:
        """Remember the outcome of one file."""
        with self.catalog.connect() as con:
            con.execute(
                "INSERT INTO dataflow_files (dataflow, url, fingerprint, batch_id, run_id, state,"
                " rows, message, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(dataflow, url) DO UPDATE SET fingerprint = excluded.fingerprint,"
                " batch_id = excluded.batch_id, run_id = excluded.run_id, state = excluded.state,"
                " rows = excluded.rows, message = excluded.message,"
                " updated_at = excluded.updated_at",
                (dataflow, f.url, f.fingerprint, f.batch_id, f.run_id, f.state, f.rows,
                 f.message, now_iso()))

    # Leases ---------------------------------------------------------------------------------

    def acquire(self, dataflow: str, run_id: str, owner: str, seconds: float) -> bool:
        """Take the dataflow's lease unless another live one holds it (one atomic statement,
        so two processes racing for it cannot both win)."""
        now = time.time()
        with self.catalog.connect() as con:
            cur = con.execute(
                "INSERT INTO dataflow_leases (dataflow, run_id, owner, expires_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(dataflow) DO UPDATE SET"
                " run_id = excluded.run_id, owner = excluded.owner,"
                " expires_at = excluded.expires_at WHERE dataflow_leases.expires_at < ?",
                (dataflow, run_id, owner, now + seconds, now))
            return cur.rowcount == 1

    def renew(self, dataflow: str, run_id: str, seconds: float) -> bool:
        """Extend a held lease; False if it was lost (expired and taken by another run)."""
        with self.catalog.connect() as con:
            cur = con.execute("UPDATE dataflow_leases SET expires_at = ? WHERE dataflow = ?"
                              " AND run_id = ?", (time.time() + seconds, dataflow, run_id))
            return cur.rowcount == 1

    def release(self, dataflow: str, run_id: str) -> None:
        """Give a lease back."""
        with self.catalog.connect() as con:
            con.execute("DELETE FROM dataflow_leases WHERE dataflow = ? AND run_id = ?",
                        (dataflow, run_id))

    def lease(self, dataflow: str) -> dict[str, Any] | None:
        """The current lease of a dataflow, if any (expired or not)."""
        with self.catalog.connect() as con:
            row = con.execute("SELECT * FROM dataflow_leases WHERE dataflow = ?",
                              (dataflow,)).fetchone()
        return dict(row) if row else None


def _dataflow(row: sqlite3.Row) -> DataflowRecord:
    return DataflowRecord(
        name=row["name"], kind=row["kind"], spec=json.loads(row["spec_json"]),
        schedule=row["schedule"], enabled=bool(row["enabled"]), next_run_at=row["next_run_at"],
        state=json.loads(row["state_json"]), created_at=row["created_at"],
        updated_at=row["updated_at"])
