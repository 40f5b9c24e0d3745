"""Monitoring (the reference's Week 6): past scores joined with what happened next.

For each day on which people were scored (the latest run of each as-of day), the scores are
joined with the outcome, converting in (T, T + H] where T is the run's as-of time and H the
model's label horizon, and reported: AUC, Brier score, calibration (expected calibration error
and a reliability table), the 0/1 decision at a threshold (0.2 in the reference), and drift:
the PSI of the scores and of every feature between the baseline and the day's population.

The baseline is the model's training set (its features, and the model's scores on them) when
the model card names it; otherwise the first scoring run. People who had already converted at
T are left out of the quality measures (they cannot convert again). A day whose window the
events do not cover yet is reported as pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot

from distillery.errors import DistilleryError
from distillery.scoring import drift
from distillery.scoring.engine import read_files, reader
from distillery.scoring.errors import MonitorError
from distillery.scoring.model import ModelRef, load_model
from distillery.scoring.plots import draw
from distillery.scoring.runs import ScoreRun, list_runs

DEFAULT_OUTCOME = "web.formFilledOut"
DEFAULT_HORIZON = timedelta(days=14)
_OUTCOMES = """
SELECT s.person, any_value(s.propensity) AS propensity,
       coalesce(bool_or(c.ts > $t AND c.ts <= $t_end), false) AS converted,
       coalesce(bool_or(c.ts <= $t), false) AS converted_before
FROM __scores AS s LEFT JOIN __conversions AS c ON c.person = s.person
GROUP BY s.person
"""


@dataclass
class DayReport:
    """One monitored day.

    Attributes:
        day: The as-of date (ISO).
        run_id: The scoring run; model_version its model version.
        scored: People scored; evaluated: people whose outcome counts.
        pending: Whether the outcome window is not covered by the events yet.
        metrics: AUC, brier, calibration_error, precision/recall/accuracy at the threshold,
            positives, observed_rate, mean_predicted, reliability.
        score_psi: PSI of the scores against the baseline.
        feature_psi: PSI of each feature against the baseline.
    """

    day: str
    run_id: str
    model_version: str
    as_of: str
    scored: int = 0
    evaluated: int = 0
    pending: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)
    score_psi: float | None = None
    feature_psi: dict[str, float | None] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """A flat summary (table and JSON)."""
        m = self.metrics
        worst = max(((v, k) for k, v in self.feature_psi.items() if v is not None),
                    default=(None, None))
        return {"day": self.day, "run_id": self.run_id, "version": self.model_version,
                "scored": self.scored, "evaluated": self.evaluated, "pending": self.pending,
                "positives": m.get("positives"), "auc": m.get("auc"),
                "calibration_error": m.get("calibration_error"), "brier": m.get("brier"),
                "mean_predicted": m.get("mean_predicted"),
                "observed_rate": m.get("observed_rate"), "precision": m.get("precision"),
                "recall": m.get("recall"), "score_psi": self.score_psi,
                "max_feature_psi": worst[0], "max_psi_feature": worst[1]}


@dataclass
class MonitorReport:
    """Monitoring of one model: a report per day, and the plots drawn."""

    model: str
    horizon_days: float
    threshold: float
    outcome: list[str]
    baseline: str
    days: list[DayReport] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {"model": self.model, "horizon_days": self.horizon_days,
                "threshold": self.threshold, "outcome": self.outcome,
                "baseline": self.baseline, "plots": self.plots,
                "days": [{**d.row(), "feature_psi": d.feature_psi,
                          "reliability": d.metrics.get("reliability", [])} for d in self.days]}


@dataclass
class _Baseline:
    label: str
    features: pa.Table
    scores: np.ndarray


def monitor(platform: Any, model: str = "propensity", *, horizon: timedelta | None = None,
            threshold: float = 0.2, outcome: list[str] | None = None,
            plots: str | Path | None = None) -> MonitorReport:
    """Join past scores of `model` with what happened, per day; see the module docstring.

    Args:
        platform: The platform.
        model: The registered model name whose scoring runs to monitor.
        horizon: The outcome window H (default: the model's label horizon, else 14 days).
        threshold: The decision threshold for precision, recall and accuracy.
        outcome: Event types that count as the outcome (default: the model's conversion).
        plots: A folder to draw the plots into (PNG); None draws none.

    Raises:
        MonitorError: the model has no scoring runs, or an option is out of range.
    """
    if not 0 < threshold < 1:
        raise MonitorError(f"threshold must be between 0 and 1, got {threshold}")
    runs = list_runs(platform.catalog, model)
    if not runs:
        raise MonitorError(f"model {model!r} has no scoring runs; run `distillery score` first")
    definition = runs[-1].details.get("definition") or {}
    window = horizon or _horizon(definition)
    types = outcome or _outcome_types(definition)
    baseline = _baseline(platform, runs)
    report = MonitorReport(model, window.total_seconds() / 86400, threshold, types,
                           baseline.label)
    conversions, covered = _conversions(platform, definition, types)
    for run in _latest_per_day(runs):
        report.days.append(_day(platform, run, conversions, covered, window, threshold,
                                baseline))
    if plots is not None:
        report.plots = draw(report, Path(plots))
    return report


def _horizon(definition: dict[str, Any]) -> timedelta:
    seconds = definition.get("horizon_seconds")
    return timedelta(seconds=float(seconds)) if seconds else DEFAULT_HORIZON


def _outcome_types(definition: dict[str, Any]) -> list[str]:
    conversion = definition.get("conversion") or {}
    types = list(conversion.get("event_types") or conversion.get("matched_event_types") or [])
    return types or [DEFAULT_OUTCOME]


def _latest_per_day(runs: list[ScoreRun]) -> list[ScoreRun]:
    by_day: dict[str, ScoreRun] = {}
    for run in runs:
        by_day[run.as_of[:10]] = run  # runs come oldest first: the latest of a day wins
    return [by_day[d] for d in sorted(by_day)]


def _conversions(platform: Any, definition: dict[str, Any], types: list[str]
                 ) -> tuple[pa.Table, datetime | None]:
    """Every outcome event (person, time) and the time the events reach."""
    name = definition.get("events")
    ds = platform.lake.catalog.find_dataset(name) if name else None
    if ds is None:
        ds = next((d for d in platform.lake.datasets()
                   if d.schema.cls == "event" and d.profile_enabled), None)
    empty = pa.table({"person": pa.array([], pa.string()),
                      "ts": pa.array([], pa.timestamp("us", tz="UTC"))})
    if ds is None or ds.version < 0 or not platform.lake.files(ds):
        return empty, None
    identity = definition.get("identity") or (ds.schema.primary_identity.path
                                              if ds.schema.primary_identity else None)
    if identity is None:
        raise MonitorError(f"events dataset {ds.name!r} has no identity to join scores on")
    exp = sqlglot.exp
    src = read_files("files")
    ts = _path(definition.get("timestamp") or "timestamp")
    kind = _path(definition.get("event_type") or "eventType")
    query = (exp.select(exp.cast(_path(identity), "VARCHAR").as_("person"),
                        exp.cast(ts, "TIMESTAMPTZ").as_("ts"))
             .from_(src)
             .where(kind.isin(*(exp.Placeholder(this=f"t{i}") for i in range(len(types))))))
    params = {"files": platform.lake.files(ds), **{f"t{i}": t for i, t in enumerate(types)}}
    rows = reader(platform, query, params).read_all()
    last = exp.select(exp.func("max", exp.cast(ts.copy(), "TIMESTAMPTZ"))).from_(src.copy())
    reach = reader(platform, last, {"files": params["files"]}).read_all().column(0)[0].as_py()
    return rows, reach


def _path(dotted: str) -> sqlglot.exp.Expr:
    exp = sqlglot.exp
    parts = [exp.to_identifier(p, quoted=True) for p in dotted.split(".")]
    return parts[0] if len(parts) == 1 else exp.Dot.build(parts)


def _day(platform: Any, run: ScoreRun, conversions: pa.Table, covered: datetime | None,
         window: timedelta, threshold: float, baseline: _Baseline) -> DayReport:
    t = datetime.fromisoformat(run.as_of)
    report = DayReport(run.as_of[:10], run.id, run.model_version, run.as_of)
    scores = _scores(platform, run)
    report.scored = scores.num_rows
    report.score_psi = drift.psi(baseline.scores, scores.column("propensity").to_numpy())
    report.feature_psi = _feature_psi(baseline, run)
    report.pending = covered is None or covered < t + window
    if report.pending:
        return report
    joined = reader(platform, sqlglot.parse_one(_OUTCOMES, read="duckdb"),
                    {"t": t, "t_end": t + window},
                    {"__scores": scores, "__conversions": conversions}).read_all()
    keep = ~np.asarray(joined.column("converted_before").to_numpy(zero_copy_only=False))
    p = joined.column("propensity").to_numpy()[keep]
    y = np.asarray(joined.column("converted").to_numpy(zero_copy_only=False))[keep].astype(int)
    report.evaluated = int(keep.sum())
    report.metrics = drift.quality(p, y, threshold)
    return report


def _scores(platform: Any, run: ScoreRun) -> pa.Table:
    """The run's scores (person, propensity), read from the batch that holds them."""
    batch = platform.catalog.find_batch(run.batch_id) if run.batch_id else None
    if batch is None or batch.state != "success":
        raise MonitorError(f"the scores of run {run.id} are gone (batch {run.batch_id} is "
                           f"{batch.state if batch else 'missing'})")
    ds = platform.lake.catalog.dataset(batch.dataset_id)
    folder = platform.lake.path(ds)
    table = pq.read_table([str(folder / f) for f in batch.files],
                          columns=[f"_{ds.schema.tenant}"])
    tenant = table.column(0).combine_chunks()
    return pa.table({"person": tenant.field("userid"),
                     "propensity": tenant.field("propensity")})


def _feature_psi(baseline: _Baseline, run: ScoreRun) -> dict[str, float | None]:
    sample = _sample(run)
    if sample is None:
        return {}
    out: dict[str, float | None] = {}
    for name in run.details.get("features") or []:
        if name in sample.column_names and name in baseline.features.column_names:
            out[name] = drift.psi(_numbers(baseline.features.column(name)),
                                  _numbers(sample.column(name)))
    return out


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    try:
        return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return np.array([])  # a categorical feature: no PSI on numbers


def _sample(run: ScoreRun) -> pa.Table | None:
    path = run.details.get("sample")
    return pq.read_table(path) if path and Path(path).exists() else None


def _baseline(platform: Any, runs: list[ScoreRun]) -> _Baseline:
    """The training set with the model's scores on it, else the first run's sample."""
    trained = _training_baseline(platform, runs[-1])
    if trained is not None:
        return trained
    first = next((r for r in runs if _sample(r) is not None), None)
    if first is None:
        return _Baseline("none (no sample kept)", pa.table({}), np.array([]))
    sample = _sample(first)
    assert sample is not None
    return _Baseline(f"first scoring run {first.id}", sample,
                     sample.column("propensity").to_numpy())


def _training_baseline(platform: Any, run: ScoreRun, rows: int = 50_000) -> _Baseline | None:
    source = run.details.get("training_set") or {}
    ds = platform.lake.catalog.find_dataset(source.get("dataset_id") or "") \
        if source.get("dataset_id") else None
    if ds is None:
        return None
    try:
        model = load_model(platform, ModelRef(run.model_name, run.model_version))
    except (DistilleryError, ImportError, OSError):
        return None  # the model left the registry: the first run is the baseline instead
    files = platform.lake.files(ds, source.get("snapshot"))
    table = pq.read_table(files, columns=model.features) if files else None
    if table is None or not table.num_rows:
        return None
    if table.num_rows > rows:
        pick = np.random.default_rng(0).choice(table.num_rows, rows, replace=False)
        table = table.take(pa.array(np.sort(pick)))
    return _Baseline(f"training set {ds.name!r}", table,
                     np.asarray(model.probability(table), dtype=float))
