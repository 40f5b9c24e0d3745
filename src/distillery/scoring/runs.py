"""The record of scoring runs (catalog table `score_runs`): what was scored, when, by which
model version, into which batch; monitoring reads it back."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from distillery.errors import NotFoundError
from distillery.lake.catalog import Catalog


@dataclass
class ScoreRun:
    """One scoring run.

    Attributes:
        id: Run id (also names the score batch and the run folder).
        model_name: Registered model name; model_version its version.
        as_of: The time the features were computed at (ISO).
        scored_at: When the run scored (ISO); every score row carries it.
        dataset_id: The score dataset; batch_id the batch holding the run's rows.
        rows: People scored.
        delivery: "batch" (direct batch ingestion) or "csv" (ingress file, source pickup).
        details: Timings, the ingress file, the monitoring sample's path, the features.
    """

    id: str
    model_name: str
    model_version: str
    as_of: str
    scored_at: str
    dataset_id: str | None = None
    batch_id: str | None = None
    rows: int = 0
    delivery: str = "batch"
    details: dict[str, Any] = field(default_factory=dict)


def record_run(catalog: Catalog, run: ScoreRun) -> None:
    """Store (or update) a run."""
    data = asdict(run)
    data["details_json"] = json.dumps(data.pop("details"), default=str)
    columns = ", ".join(data)
    marks = ", ".join("?" for _ in data)
    with catalog.connect() as con:
        con.execute(f"INSERT OR REPLACE INTO score_runs ({columns}) VALUES ({marks})",
                    tuple(data.values()))


def list_runs(catalog: Catalog, model: str | None = None) -> list[ScoreRun]:
    """Runs, oldest first (of one model, or all)."""
    with catalog.connect() as con:
        if model is None:
            rows = con.execute("SELECT * FROM score_runs ORDER BY scored_at").fetchall()
        else:
            rows = con.execute("SELECT * FROM score_runs WHERE model_name = ? ORDER BY "
                               "scored_at", (model,)).fetchall()
    return [_run(r) for r in rows]


def get_run(catalog: Catalog, run_id: str) -> ScoreRun:
    """One run by id."""
    with catalog.connect() as con:
        row = con.execute("SELECT * FROM score_runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"scoring run {run_id!r} does not exist")
    return _run(row)


def _run(row: sqlite3.Row) -> ScoreRun:
    data = dict(row)
    data["details"] = json.loads(data.pop("details_json"))
    return ScoreRun(**data)
