"""`score`: every person scored by a registered model, as of a time, into the platform.

    result = score(platform, "propensity@champion", as_of="2025-03-01")

1. Features of every person as of T, computed by `compute_features` with the feature
   definition the model was trained on (one code path: no training/serving skew).
2. Calibrated probabilities in streaming batches (memory bounded by the batch size), staged to
   a Parquet file with a uniform sample of feature rows kept for drift monitoring.
3. Deciles and percentiles over the whole scored population (one window query over the staged
   scores), then delivery: direct batch ingestion into the profile-enabled score dataset
   (`deliver="batch"`), or the reference's CSV in the ingress folder of cloud storage picked up
   by the score source (`deliver="csv"`). Both give the same rows.

The score dataset's identity namespace is the one the model's feature definition keyed people
by (ECID for the reference's events, Email for events keyed by email, ...).

Re-scoring appends a new batch: the score dataset keeps every run (for monitoring and for the
scores a profile shows), and the unified profile keeps one row per person whose score is the
latest (timestampOrdered on `scoredAt`).
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from distillery.errors import BatchFailedError, ConfigError
from distillery.features.timeparse import parse_cutoff
from distillery.ml.parallel import cores
from distillery.scoring import ingress, ranks
from distillery.scoring.errors import ScoringError
from distillery.scoring.ingest import score_dataset
from distillery.scoring.model import DEFAULT_MODEL, ModelRef, ScoringModel, load_model
from distillery.scoring.predict import feature_stream, score_stream
from distillery.scoring.runs import ScoreRun, record_run
from distillery.scoring.schema import SCORES_DATASET, score_schema

DELIVERIES = ("batch", "csv")


@dataclass
class ScoreResult:
    """What a scoring run did.

    Attributes:
        run: The run record (model, version, times, batch, rows).
        dataset: The score dataset's name.
        file: The ingress file URL (csv delivery).
        seconds: Wall time per step: features+predict, rank, deliver, total.
    """

    run: ScoreRun
    dataset: str
    file: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """People scored."""
        return self.run.rows

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary."""
        r = self.run
        return {"run_id": r.id, "model": r.model_name, "version": r.model_version,
                "as_of": r.as_of, "scored_at": r.scored_at, "rows": r.rows,
                "dataset": self.dataset, "dataset_id": r.dataset_id, "batch_id": r.batch_id,
                "delivery": r.delivery, "file": self.file,
                "predictor": r.details.get("predictor"),
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


def score(platform: Any, model: str | ModelRef | ScoringModel = DEFAULT_MODEL, *,
          as_of: datetime | date | str | None = None, dataset: str = SCORES_DATASET,
          deliver: str = "batch", ingress_url: str | None = None, batch_rows: int = 250_000,
          threads: int | None = None, sample_rows: int = 20_000,
          error_threshold: float | None = None) -> ScoreResult:
    """Score every person and write the scores back into the platform.

    Args:
        platform: The platform.
        model: `name@alias`, `name/version`, or a ScoringModel.
        as_of: Features as of this time (default: now).
        dataset: The profile-enabled score dataset (created when missing).
        deliver: "batch" (direct batch ingestion) or "csv" (ingress file + source).
        ingress_url: Storage URL whose `cmle/ingress/...` receives the CSV (csv delivery;
            default: the sandbox's local `landing` folder).
        batch_rows: People per scored batch: features are computed and scored in buckets of
            about this many people, so memory follows it, not the population.
        threads: Threads that predict (default: the DuckDB setting, else every core).
        sample_rows: Feature rows kept for drift monitoring.
        error_threshold: Share of bad rows the csv pick-up tolerates.

    Raises:
        ScoringError: the features do not fit the model, its output is not a probability, or
            its people are keyed by no identity namespace or by another one than the score
            dataset's; nothing was written.
        ModelNotFoundError: the model or version does not exist.
    """
    if deliver not in DELIVERIES:
        raise ConfigError(f"deliver must be one of {', '.join(DELIVERIES)}, got {deliver!r}")
    chosen = model if isinstance(model, ScoringModel) else load_model(platform, model)
    job = _Job(chosen, parse_cutoff(as_of, "as-of") if as_of is not None else datetime.now(UTC),
               datetime.now(UTC), dataset, _namespace(platform, chosen, dataset), deliver,
               ingress_url, batch_rows, threads or _threads(platform), sample_rows,
               error_threshold)
    run = ScoreRun(_run_id(job.scored_at), job.model.name, job.model.version,
                   job.as_of.isoformat(), job.scored_at.isoformat(), delivery=deliver)
    folder = platform.root / "runs" / "scoring" / run.id
    result = ScoreResult(run, dataset)
    try:
        _score(platform, job, run, folder, result)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        (folder / "scores.parquet").unlink(missing_ok=True)
    return result


@dataclass
class _Job:
    """One scoring run's inputs."""

    model: ScoringModel
    as_of: datetime
    scored_at: datetime
    dataset: str
    namespace: str
    deliver: str
    ingress_url: str | None
    batch_rows: int
    threads: int
    sample_rows: int
    error_threshold: float | None


def _score(platform: Any, job: _Job, run: ScoreRun, folder: Path, result: ScoreResult) -> None:
    started = time.perf_counter()
    model = job.model
    with platform.console.task(f"Scoring with {model.name} v{model.version}") as task:
        staged = score_stream(feature_stream(platform, model, job.as_of, job.batch_rows), model,
                              folder / "scores.parquet", threads=job.threads,
                              sample_rows=job.sample_rows, seed=int(run.id[-8:], 16),
                              progress=task)
    result.seconds["features_and_predict"] = time.perf_counter() - started
    mark = time.perf_counter()
    ranks.check_people(platform, staged.path, model.name)
    ds = score_dataset(platform, job.dataset, score_schema(platform.tenant, job.namespace))
    run.dataset_id, run.rows = ds.id, staged.rows
    sample = folder / "sample.parquet"
    if staged.sample.num_rows:
        pq.write_table(staged.sample, sample)
    run.details.update(features=model.features, person=model.person,
                       namespace=job.namespace,
                       predictor=getattr(model.probability, "engine", "model"),
                       sample=str(sample) if staged.sample.num_rows else None,
                       definition=model.definition,
                       training_set=model.card.get("training_set"))
    ranked = ranks.ranked(platform, staged.path, job.batch_rows)
    if job.deliver == "batch":
        rows = ranks.score_rows(ranked, ds.schema, model=model.name, version=model.version,
                                scored_at=job.scored_at)
        rec = platform.lake.write(ds.name, rows, mode="append", batch_id=f"score-{run.id}",
                                  error_threshold=0.0)
        run.batch_id = rec.id
    else:
        _deliver_csv(platform, job, run, ds, ranked, result)
    result.seconds["rank_and_deliver"] = time.perf_counter() - mark
    result.seconds["total"] = time.perf_counter() - started
    run.details["seconds"] = result.seconds
    record_run(platform.catalog, run)


def _namespace(platform: Any, model: ScoringModel, dataset: str) -> str:
    """The namespace of the scores: the one the model's features were keyed by, which the
    score dataset, when it exists, must hold."""
    if model.namespace is None:
        field = (model.definition or {}).get("identity", model.person)
        raise ScoringError(f"model {model.name!r} version {model.version} was trained on "
                           f"features keyed by {field!r}, which its events dataset does not "
                           "mark as an identity, so its scores could not be merged into "
                           "profiles; give that field an identity namespace and rebuild the "
                           "training set")
    existing = platform.lake.catalog.find_dataset(dataset)
    primary = existing.schema.primary_identity if existing is not None else None
    if primary is not None and primary.namespace != model.namespace:
        raise ScoringError(f"score dataset {dataset!r} holds {primary.namespace} identities, "
                           f"but model {model.name!r} version {model.version} scores people "
                           f"by {model.namespace}; score into another dataset (--dataset)")
    return model.namespace


def _deliver_csv(platform: Any, job: _Job, run: ScoreRun, ds: Any,
                 ranked: pa.RecordBatchReader, result: ScoreResult) -> None:
    url = job.ingress_url or str(platform.root / "landing")
    rows = ranks.csv_rows(ranked, model=job.model.name, version=job.model.version,
                          scored_at=job.scored_at)
    written = ingress.write_ingress(platform, rows, url, ds, job.scored_at)
    result.file = written.url
    run.details["file"] = written.url
    picked = [p for p in ingress.pick_up(platform, url, ds.name,
                                         error_threshold=job.error_threshold)
              if p.url == written.url]
    if picked and picked[0].state == "failed":
        raise BatchFailedError(f"the score file {written.url} was not ingested: "
                               f"{picked[0].message}", batch_id=picked[0].batch_id)
    run.batch_id = picked[0].batch_id if picked else None


def _threads(platform: Any) -> int:
    """The platform's thread setting for DuckDB, else the cores this process may use."""
    configured = platform.config.duckdb.threads
    return int(configured) if configured else cores()


def _run_id(moment: datetime) -> str:
    return f"{moment:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
