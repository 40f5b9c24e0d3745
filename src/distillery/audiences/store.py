"""Catalog records of audiences and their evaluation jobs (migration 006)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from distillery.audiences.errors import AudienceNotFoundError
from distillery.errors import AlreadyExistsError
from distillery.lake.catalog import Catalog
from distillery.lake.runs import RunTable

JOB_STATES = ("NEW", "QUEUED", "PROCESSING", "SUCCEEDED", "FAILED")


@dataclass
class AudienceRecord:
    """An audience definition.

    Attributes:
        kind: "rule" (PQL over a profile table) or "sql" (members from a SELECT).
        expression: The PQL rule, or the SELECT of a SQL audience.
        source: The table the rule reads (rule), or the audience's own dataset (sql).
        identity: The field holding the person's primary identity in `source`.
        namespace: The identity namespace (ECID, Email, ...).
        ttl_days: Days a membership stays valid after its evaluation; None never expires.
        schedule: Cron expression or interval for scheduled evaluation, if any.
        options: events table and identity, consent table, attributes.
    """

    id: str
    name: str
    kind: str
    expression: str
    source: str
    identity: str
    namespace: str
    description: str = ""
    ttl_days: int | None = None
    schedule: str | None = None
    next_run_at: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""


@dataclass
class JobRecord:
    """One evaluation job: its state and metrics."""

    number: int
    id: str
    audience_id: str
    audience: str
    state: str
    trigger: str = "manual"
    created_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    as_of: str | None = None
    previous: int | None = None
    qualified: int = 0
    realized: int = 0
    existing: int = 0
    exited: int = 0
    error: str | None = None


class AudienceStore:
    """Typed access to the audience tables of one sandbox's catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        # A job is found by its id or its number; its number orders jobs.
        self._jobs = RunTable(catalog, "audience_jobs", JobRecord, "evaluation job",
                              order="number DESC", keys=("id", "number"), json_fields=())

    # Audiences ------------------------------------------------------------------------------

    def add(self, rec: AudienceRecord) -> None:
        """Record a new audience; AlreadyExistsError if the name is taken."""
        try:
            with self.catalog.connect() as con:
                con.execute(
                    "INSERT INTO audiences (id, name, kind, description, expression, source,"
                    " identity, namespace, ttl_days, schedule, next_run_at, options_json,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (rec.id, rec.name, rec.kind, rec.description, rec.expression, rec.source,
                     rec.identity, rec.namespace, rec.ttl_days, rec.schedule, rec.next_run_at,
                     json.dumps(rec.options), rec.created_at, rec.updated_at))
        except sqlite3.IntegrityError:
            raise AlreadyExistsError(f"audience {rec.name!r} exists already") from None

    def find(self, key: str) -> AudienceRecord | None:
        """The audience whose name or id is `key`, if any."""
        with self.catalog.connect() as con:
            row = con.execute("SELECT * FROM audiences WHERE name = ? OR id = ?",
                              (key, key)).fetchone()
        return _audience(row) if row else None

    def get(self, key: str) -> AudienceRecord:
        """The audience named `key` (or with that id); AudienceNotFoundError otherwise."""
        rec = self.find(key)
        if rec is None:
            raise AudienceNotFoundError(f"audience {key!r} does not exist in this sandbox; "
                                        "`distillery audience list` shows those that do")
        return rec

    def all(self) -> list[AudienceRecord]:
        """Every audience, by name."""
        with self.catalog.connect() as con:
            rows = con.execute("SELECT * FROM audiences ORDER BY name").fetchall()
        return [_audience(r) for r in rows]

    def update(self, audience_id: str, **values: Any) -> None:
        """Change columns of one audience (schedule, next_run_at, ttl_days, options, ...)."""
        encoded = {("options_json" if k == "options" else k):
                   (json.dumps(v) if k == "options" else v) for k, v in values.items()}
        sets = ", ".join(f"{k} = ?" for k in encoded)
        with self.catalog.connect() as con:
            con.execute(f"UPDATE audiences SET {sets} WHERE id = ?",
                        (*encoded.values(), audience_id))

    def remove(self, audience_id: str) -> None:
        """Forget an audience definition (its jobs stay, as history)."""
        with self.catalog.connect() as con:
            con.execute("DELETE FROM audiences WHERE id = ?", (audience_id,))

    # Jobs -----------------------------------------------------------------------------------

    def add_job(self, job_id: str, audience: AudienceRecord, trigger: str,
                created_at: str) -> JobRecord:
        """A new job in state NEW; its number orders it after every earlier job."""
        job = JobRecord(0, job_id, audience.id, audience.name, "NEW", trigger, created_at)
        job.number = self._jobs.start(job, ("id", "audience_id", "audience", "state", "trigger",
                                            "created_at"))
        return job

    def update_job(self, job: JobRecord, **values: Any) -> JobRecord:
        """Change a job's columns and return it updated."""
        self._jobs.update(job.id, **values)
        for k, v in values.items():
            setattr(job, k, v)
        return job

    def job(self, key: str | int) -> JobRecord:
        """A job by id or number."""
        return self._jobs.get(key)

    def jobs(self, audience_id: str | None = None, limit: int | None = None) -> list[JobRecord]:
        """Jobs of one audience (or all), newest first."""
        return self._jobs.select({"audience_id": audience_id}, limit)

    def last_succeeded(self, audience_id: str) -> JobRecord | None:
        """The newest successful evaluation of an audience, if any."""
        found = self._jobs.select({"audience_id": audience_id, "state": "SUCCEEDED"}, 1)
        return found[0] if found else None


def _audience(row: sqlite3.Row) -> AudienceRecord:
    data = dict(row)
    data["options"] = json.loads(data.pop("options_json"))
    return AudienceRecord(**data)
