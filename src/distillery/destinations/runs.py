"""Activation run records (catalog table `activation_runs`): what each run did and why.

States: running, succeeded, partial (some records rejected or undelivered; they go again next
run), failed, refused (governance, expiry or a missing evaluation stopped it before sending).
Records never hold secrets: destinations put only facts (counts, statuses, files) in them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distillery.lake.catalog import Catalog
from distillery.lake.runs import RunTable

RUN_STATES = ("running", "succeeded", "partial", "failed", "refused")
_COUNTS = ("entered", "exited", "updated", "unchanged", "excluded", "sent", "rejected")
_STARTED = ("id", "destination", "audience_id", "audience", "state", "dry_run", "mode", "job",
            "started_at", "details")
_FINISHED = ("state", "mode", "job", "finished_at", "duration_s", *_COUNTS, "error", "details")


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
        self._runs = RunTable(catalog, "activation_runs", ActivationRun, "activation run",
                              bool_fields=("dry_run",))

    def start(self, run: ActivationRun) -> None:
        """Record a run as it starts."""
        self._runs.start(run, _STARTED)

    def finish(self, run: ActivationRun) -> None:
        """Store a run's outcome."""
        self._runs.save(run, _FINISHED)

    def get(self, run_id: str) -> ActivationRun:
        """A run by id."""
        return self._runs.get(run_id)

    def list(self, destination: str | None = None, audience_id: str | None = None,
             limit: int | None = None) -> list[ActivationRun]:
        """Runs, newest first, optionally of one destination and/or audience."""
        return self._runs.select({"destination": destination, "audience_id": audience_id},
                                 limit)
