"""Pass one of scoring: features in, calibrated probabilities out, in streaming batches.

Features come from `compute_features` with the model's own feature definition (the function
that built its training set, so training and scoring cannot drift apart), streamed in buckets
of about `batch_rows` people. Each batch is predicted on a worker thread while the next
bucket's features are computed: a model that parallelises one batch itself (a `Predictor` of
a LightGBM booster) gets all `threads` and one batch at a time; any other model (compiled
trees, whose row blocks need no batch-sized matrix, or a pipeline) runs on one thread and
`threads` batches are scored side by side (the compiled trees and the boosting libraries
release the GIL). At most workers + 1 batches are in flight, so memory depends on the batch
size, not on the population. Each batch's (person, propensity) is appended to a staging
Parquet file, and a fixed-size uniform sample of feature rows is kept for drift monitoring.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from distillery.scoring.errors import ScoringError
from distillery.scoring.model import Predictor, ScoringModel

PERSON, PROPENSITY = "person", "propensity"
STAGING_SCHEMA = pa.schema([(PERSON, pa.string()), (PROPENSITY, pa.float64())])


@dataclass
class Staged:
    """What pass one wrote: rows scored, the staging file and the monitoring sample."""

    rows: int
    path: Path
    sample: pa.Table


def feature_stream(platform: Any, model: ScoringModel, as_of: datetime,
                   batch_rows: int) -> pa.RecordBatchReader:
    """Every person's features as of `as_of`, by the model's feature definition."""
    from distillery.features import FeatureDefinition, compute_features

    if model.definition is None:
        raise ScoringError(f"model {model.name!r} version {model.version} has no feature "
                           "definition, so its features cannot be computed")
    definition = FeatureDefinition.model_validate(model.definition)
    return compute_features(platform, definition, as_of, batch_size=batch_rows)


def check_columns(schema: pa.Schema, model: ScoringModel) -> None:
    """The feature stream must hold the person column and every model feature."""
    missing = [c for c in [model.person, *model.features] if c not in schema.names]
    if missing:
        raise ScoringError(f"model {model.name!r} version {model.version} needs column(s) "
                           f"{missing} that the computed features lack (they have "
                           f"{schema.names[:20]}); was the model trained on another feature "
                           "definition?")


def score_stream(reader: pa.RecordBatchReader, model: ScoringModel, staging: Path, *,
                 threads: int = 2, sample_rows: int = 20_000, seed: int = 0,
                 progress: Any = None) -> Staged:
    """Score every batch of `reader` and append (person, propensity) to `staging`."""
    check_columns(reader.schema, model)
    predict, workers = predictor(model, threads)
    sampler = _Sampler(sample_rows, seed)
    rows = 0
    staging.parent.mkdir(parents=True, exist_ok=True)
    # The staging file is read once, by the ranking query: plain encoding, no compression
    # (dictionary-encoding a million distinct person ids only to give up was most of its cost).
    with pq.ParquetWriter(staging, STAGING_SCHEMA, use_dictionary=False,
                          compression="none") as writer, \
            ThreadPoolExecutor(workers, thread_name_prefix="distillery-score") as pool:
        for batch, probs in _scored(reader, model, predict, pool, workers):
            probs = _checked(probs, batch, model)
            people = batch.column(model.person).cast(pa.string())
            writer.write_batch(pa.record_batch([people, pa.array(probs)], schema=STAGING_SCHEMA))
            sampler.add(batch, [model.person, *model.features], probs)
            rows += batch.num_rows
            if progress is not None:
                progress.advance(batch.num_rows)
    return Staged(rows, staging, sampler.table())


def predictor(model: ScoringModel, threads: int) -> tuple[Callable[[Any], Any], int]:
    """How to predict a batch, and how many batches to predict side by side."""
    threads = max(1, threads)
    predict = model.probability
    if isinstance(predict, Predictor) and predict.parallel:
        return predict.on(threads), 1
    return predict, threads


def _scored(reader: pa.RecordBatchReader, model: ScoringModel,
            predict: Callable[[Any], Any], pool: ThreadPoolExecutor, workers: int
            ) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    pending: deque[tuple[pa.RecordBatch, Future[np.ndarray]]] = deque()
    for batch in reader:
        if batch.num_rows == 0:
            continue
        frame = pa.Table.from_batches([batch.select(model.features)])
        pending.append((batch, pool.submit(predict, frame)))
        if len(pending) > workers:
            done, future = pending.popleft()
            yield done, future.result()
    while pending:
        done, future = pending.popleft()
        yield done, future.result()


def _checked(probs: Any, batch: pa.RecordBatch, model: ScoringModel) -> np.ndarray:
    """The model's output must be one probability in [0, 1] per row."""
    out = np.asarray(probs, dtype=np.float64).reshape(-1)
    if len(out) != batch.num_rows:
        raise ScoringError(f"model {model.name!r} version {model.version} returned {len(out)} "
                           f"values for {batch.num_rows} rows")
    bad = ~np.isfinite(out) | (out < 0) | (out > 1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        person = batch.column(model.person)[first].as_py()
        raise ScoringError(f"model {model.name!r} version {model.version} returned "
                           f"{int(bad.sum())} value(s) that are not probabilities, e.g. "
                           f"{out[first]!r} for person {person!r}; nothing was written")
    return out


class _Sampler:
    """A uniform random sample of fixed size over a stream: each row draws a random key and
    the rows with the smallest keys are kept."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.kept: pa.Table | None = None
        self.keys = np.empty(0)

    def add(self, batch: pa.RecordBatch, columns: list[str], probs: np.ndarray) -> None:
        """Offer the rows of `batch` (its `columns` and their propensities)."""
        if self.size <= 0:
            return
        keys = self.rng.random(batch.num_rows)
        rows = np.arange(batch.num_rows)
        if len(self.keys) >= self.size:
            # Only rows drawing a key below the largest kept one can enter a full sample.
            rows = np.flatnonzero(keys < self.keys.max())
        candidates = np.concatenate([self.keys, keys[rows]])
        keep = np.arange(len(candidates)) if len(candidates) <= self.size else \
            np.sort(np.argpartition(candidates, self.size - 1)[: self.size])
        # One take from the kept rows and one from the batch, whatever was offered.
        old = keep[keep < len(self.keys)]
        new = rows[keep[keep >= len(self.keys)] - len(self.keys)]
        taken = pa.Table.from_batches([batch.select(columns)]).take(pa.array(new)) \
            .append_column(PROPENSITY, pa.array(probs[new]))
        parts = [self.kept.take(pa.array(old)), taken] if self.kept is not None else [taken]
        self.kept = pa.concat_tables(parts).combine_chunks()
        self.keys = candidates[keep]

    def table(self) -> pa.Table:
        return self.kept if self.kept is not None else pa.table({})
