"""Activation run records (catalog table `activation_runs`): what each run did and why.

States: running, succeeded, partial (some records rejected or undelivered; they go again next
run), failed, refused (governance, expiry or a missing evaluation stopped it before sending).
Records never hold secrets: destinations put only facts (counts, statuses, files) in them.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from distillery.errors import NotFoundError
from distillery.lake.catalog import Catalog

RUN_STATES = ("running", "succeeded", "partial", "failed", "refused")
_COUNTS = ("entered", "exited", "updated", "unchanged", "excluded", "sent", "rejected")


@dataclass
class ActivationRun:
    """One activation of an audience to a destination."""

    id: str
    destination: str
    audience_id: str
    audience: str
    state: str
    started_at: str
    dry_run: bool = False
    mode: str = ""
    job: int | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    entered: int = 0
    exited: int = 0
    updated: int = 0
    unchanged: int = 0
    excluded: int = 0
    sent: int = 0
    rejected: int = 0
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return dict(self.__dict__)


class RunStore:
    """Typed access to the activation run records of one sandbox."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def start(self, run: ActivationRun) -> None:
        """Record a run as it starts."""
        with self.catalog.connect() as con:
            con.execute(
                "INSERT INTO activation_runs (id, destination, audience_id, audience, state,"
                " dry_run, mode, job, started_at, details_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?)",
                (run.id, run.destination, run.audience_id, run.audience, run.state,
                 int(run.dry_run), run.mode, run.job, run.started_at, json.dumps(run.details)))

    def finish(self, run: ActivationRun) -> None:
        """Store a run's outcome."""
        with self.catalog.connect() as con:
            con.execute(
                "UPDATE activation_runs SET state = ?, mode = ?, job = ?, finished_at = ?,"
                " duration_s = ?, entered = ?, exited = ?, updated = ?, unchanged = ?,"
                " excluded = ?, sent = ?, rejected = ?, error = ?, details_json = ?"
                " WHERE id = ?",
                (run.state, run.mode, run.job, run.finished_at, run.duration_s,
                 *(getattr(run, c) for c in _COUNTS), run.error,
                 json.dumps(run.details, default=str), run.id))

    def get(self, run_id: str) -> ActivationRun:
        """A run by id."""
        with self.catalog.connect() as con:
            row = con.execute("SELECT * FROM activation_runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"activation run {run_id!r} does not exist in this sandbox")
        return _run(row)

    def list(self, destination: str | None = None, audience_id: str | None = None,
             limit: int | None = None) -> list[ActivationRun]:
        """Runs, newest first, optionally of one destination and/or audience."""
        sql = "SELECT * FROM activation_runs WHERE 1 = 1"
        args: list[Any] = []
        if destination is not None:
            sql += " AND destination = ?"
            args.append(destination)
        if audience_id is not None:
            sql += " AND audience_id = ?"
            args.append(audience_id)
        sql += " ORDER BY started_at DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self.catalog.connect() as con:
            rows = con.execute(sql, args).fetchall()
        return [_run(r) for r in rows]


def _run(row: sqlite3.Row) -> ActivationRun:
    data = dict(row)
    data["details"] = json.loads(data.pop("details_json"))
    data["dry_run"] = bool(data["dry_run"])
    return ActivationRun(**data)
