"""Pass one of scoring: features in, calibrated probabilities out, in streaming batches.

Features come from `compute_features` with the model's own feature definition (the function
that built its training set, so training and scoring cannot drift apart). Batches are scored
by a small thread pool (the boosting libraries release the GIL) with at most `threads + 1`
batches in flight, so memory depends on the batch size, not on the population. Each batch's
(person, propensity) is appended to a staging Parquet file, and a fixed-size uniform sample of
feature rows is kept for drift monitoring.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from distillery.scoring.errors import ScoringError
from distillery.scoring.model import ScoringModel

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
    sampler = _Sampler(sample_rows, seed)
    rows = 0
    staging.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(staging, STAGING_SCHEMA) as writer, \
            ThreadPoolExecutor(max(1, threads), thread_name_prefix="distillery-score") as pool:
        for batch, probs in _scored(reader, model, pool, max(1, threads)):
            probs = _checked(probs, batch, model)
            people = batch.column(model.person).cast(pa.string())
            writer.write_batch(pa.record_batch([people, pa.array(probs)], schema=STAGING_SCHEMA))
            sampler.add(batch.select([model.person, *model.features]), probs)
            rows += batch.num_rows
            if progress is not None:
                progress.advance(batch.num_rows)
    return Staged(rows, staging, sampler.table())


def _scored(reader: pa.RecordBatchReader, model: ScoringModel, pool: ThreadPoolExecutor,
            threads: int) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    pending: deque[tuple[pa.RecordBatch, Future[np.ndarray]]] = deque()
    for batch in reader:
        if batch.num_rows == 0:
            continue
        frame = pa.Table.from_batches([batch.select(model.features)])
        pending.append((batch, pool.submit(model.probability, frame)))
        if len(pending) > threads:
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

    def add(self, features: pa.RecordBatch, probs: np.ndarray) -> None:
        if self.size <= 0:
            return
        table = pa.Table.from_batches([features]).append_column(PROPENSITY, pa.array(probs))
        keys = self.rng.random(table.num_rows)
        if self.kept is not None:
            table = pa.concat_tables([self.kept, table])
            keys = np.concatenate([self.keys, keys])
        if len(keys) > self.size:
            keep = np.argpartition(keys, self.size - 1)[: self.size]
            table, keys = table.take(pa.array(keep)), keys[keep]
        self.kept, self.keys = table, keys

    def table(self) -> pa.Table:
        return self.kept if self.kept is not None else pa.table({})
