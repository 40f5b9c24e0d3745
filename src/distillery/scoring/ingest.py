"""Scores into the platform as batches, under the batch rules.

A score file (or frame) is read with the reference's mapping (userId -> `_{tenant}.userid`,
prediction -> `_{tenant}.propensity`, plus decile, percentile, model_name, model_version,
scored_at when present) and checked row by row: the lake's own validation (types: a
non-numeric score is TYPE_MISMATCH; identities) and the score rules:

- REQUIRED_FIELD_MISSING: a row without a score;
- SCORE_OUT_OF_RANGE: a score that is not a probability (NaN, below 0, above 1);
- UNKNOWN_IDENTITY: an identity no other profile-enabled dataset knows (a score for nobody).

Bad rows are dropped and reported with their row number when they stay under the error
threshold; above it the batch fails and writes nothing. A file that cannot be read, or lacks a
required column, fails the batch as a whole. Nothing is ever half-applied.

Until the lake takes row checks of its own, the rows are validated here with the lake's
validation functions, the batch receives the good rows and the count of bad ones (so its own
threshold rule decides), and the diagnostics are stored on the batch.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot

from distillery.errors import BatchFailedError, SchemaError
from distillery.lake import readers
from distillery.lake.catalog import BatchRecord, DatasetRecord
from distillery.lake.ingest import MAX_DIAGNOSTICS, MAX_RECORDS
from distillery.lake.schema import Schema
from distillery.lake.validate import Problems, check, column_at, conform
from distillery.scoring.engine import read_files, reader
from distillery.scoring.schema import (
    SCORES_DATASET,
    SCORES_TAG,
    csv_mapping,
    score_schema,
)

Diagnostic = tuple[str, str, int | None, str, str, str | None]


def score_dataset(platform: Any, name: str = SCORES_DATASET, schema: Schema | None = None
                  ) -> DatasetRecord:
    """The profile-enabled score dataset, created with the score schema when missing."""
    ds = platform.lake.catalog.find_dataset(name)
    if ds is not None:
        return ds
    return platform.create_dataset(
        name, schema or score_schema(platform.tenant), profile_enabled=True,
        tags={SCORES_TAG: True, "featurize": False}, exist_ok=True,
        description="Propensity scores (distillery score), one batch per scoring run.")


def ingest_scores(platform: Any, data: Any, dataset: str = SCORES_DATASET, *,
                  mapping: dict[str, str] | None = None, error_threshold: float | None = None,
                  batch_id: str | None = None, source: str | None = None,
                  known: pa.Array | None = None) -> BatchRecord:
    """Ingest scores (a CSV/Parquet/JSON file or a frame) as one batch of `dataset`.

    Args:
        platform: The platform.
        data: A file path, Arrow table, pandas or polars frame.
        dataset: The score dataset (created with the score schema when missing).
        mapping: Source column -> field path; default: the reference's mapping plus extras.
        error_threshold: Share of bad rows tolerated (default 5%).
        batch_id: A client batch id (re-sending a committed one changes nothing).
        source: The name diagnostics give the input (default: the path).
        known: Identities that may be scored (default: those of the other profile-enabled
            datasets, in the score schema's primary namespace).

    Raises:
        BatchFailedError: the input is unreadable, lacks a column, or too many rows are bad;
            nothing was written. Diagnostics are on the batch (`distillery batch show`).
    """
    ds = score_dataset(platform, dataset)
    batch = platform.create_batch(ds, batch_id, error_threshold=error_threshold)
    if batch.done:
        return batch.record
    checker = _Checker(platform, ds, known, source or (str(data) if isinstance(
        data, str | Path) else ds.name))
    try:
        for chunk in readers.chunks(data, checker.source):
            good = checker.chunk(chunk, mapping)
            batch.add(good, source=checker.source)
    except (readers.UnreadableFileError, SchemaError) as exc:
        code = "UNREADABLE_FILE" if isinstance(exc, readers.UnreadableFileError) else \
            "SCHEMA_MISMATCH"
        return _fail(platform, batch, checker, code, str(exc))
    batch.record.input_records += checker.bad
    batch.record.failed_records += checker.bad
    if isinstance(data, str | Path):
        batch.record.input_files, batch.record.input_bytes = 1, readers.input_bytes(data)
    try:
        batch.complete()
    except BatchFailedError:
        _store(platform, batch.id, checker)
        rec = batch.record
        raise BatchFailedError(f"score batch {batch.id} into {ds.name!r} failed: "
                               f"{rec.failed_records} of {rec.input_records} rows are bad, above "
                               f"the error threshold of {rec.error_threshold:.1%}; "
                               f"{checker.summary()}", batch_id=batch.id) from None
    _store(platform, batch.id, checker)
    return platform.catalog.batch(batch.id)


def _fail(platform: Any, batch: Any, checker: _Checker, code: str, message: str
          ) -> BatchRecord:
    checker.note(code, None, "", message, None)
    batch.abandon()
    text = f"{code}: {message}"
    platform.catalog.update_batch(batch.id, state="failed", message=text)
    platform.catalog.replace_batch_errors(batch.id, checker.diagnostics)
    raise BatchFailedError(f"score batch {batch.id} failed: {text}", batch_id=batch.id)


def _store(platform: Any, batch_id: str, checker: _Checker) -> None:
    """Put the diagnostics on the batch and their summary in its message."""
    platform.catalog.replace_batch_errors(batch_id, checker.diagnostics)
    if checker.codes:
        message = platform.catalog.batch(batch_id).message
        platform.catalog.update_batch(batch_id, message="; ".join(
            m for m in (message, checker.summary()) if m))


class _Checker:
    """Maps and checks chunks of score rows, keeping diagnostics."""

    def __init__(self, platform: Any, ds: DatasetRecord, known: pa.Array | None,
                 source: str) -> None:
        self.platform, self.ds, self.schema, self.source = platform, ds, ds.schema, source
        self._known = known
        self.diagnostics: list[Diagnostic] = []
        self.codes: Counter[str] = Counter()
        self.bad = 0

    @property
    def known(self) -> pa.Array:
        if self._known is None:
            self._known = known_identities(self.platform, self.ds)
        return self._known

    def chunk(self, chunk: readers.Chunk, mapping: dict[str, str] | None) -> pa.Table:
        """The chunk's good rows, conformed to the score schema."""
        table = _mapped(chunk.table, mapping or csv_mapping(self.schema.tenant,
                                                            chunk.table.column_names),
                        self.source)
        problems = Problems(table.num_rows)
        conformed = conform(table, self.schema, problems)
        check(conformed, self.schema, problems)
        self._score_rules(conformed, problems)
        bad = np.flatnonzero(problems.bad)
        self._collect(chunk, problems, bad)
        self.bad += len(bad)
        return conformed.filter(pa.array(~problems.bad)) if len(bad) else conformed

    def _score_rules(self, table: pa.Table, problems: Problems) -> None:
        tenant = f"_{self.schema.tenant}"
        score = column_at(table, f"{tenant}.propensity")
        missing = np.asarray(score.is_null().to_numpy(zero_copy_only=False))
        problems.add(missing, "REQUIRED_FIELD_MISSING", f"{tenant}.propensity",
                     "the row has no score")
        values = np.asarray(score.fill_null(0.0).to_numpy(zero_copy_only=False), dtype=float)
        outside = ~missing & (~np.isfinite(values) | (values < 0) | (values > 1))
        problems.add(outside, "SCORE_OUT_OF_RANGE", f"{tenant}.propensity",
                     [f"score {v!r} is not a probability between 0 and 1" for v in
                      values[outside]])
        primary = self.schema.primary_identity
        if primary is None:
            return
        ids = column_at(table, primary.path)
        unknown = np.asarray(pc.invert(pc.fill_null(pc.is_in(ids, value_set=self.known),
                                                    True)).to_numpy(zero_copy_only=False))
        unknown &= ~problems.bad
        problems.add(unknown, "UNKNOWN_IDENTITY", primary.path,
                     [f"identity {primary.namespace}:{v} is not in any profile-enabled dataset"
                      for v in ids.filter(pa.array(unknown)).to_pylist()])

    def _collect(self, chunk: readers.Chunk, problems: Problems, bad: np.ndarray) -> None:
        room = max(0, MAX_RECORDS - len(self.diagnostics))
        raws = chunk.table.take(pa.array(bad[:room])).to_pylist() if room and len(bad) else []
        for i, r in enumerate(bad.tolist()):
            code, field, message = problems.codes[r]
            raw = json.dumps(raws[i], default=str) if i < len(raws) else None
            self.note(code, chunk.row_number(r), field, message, raw)

    def note(self, code: str, row: int | None, field: str, message: str,
             raw: str | None) -> None:
        self.codes[code] += 1
        if len(self.diagnostics) < MAX_DIAGNOSTICS:
            self.diagnostics.append((code, self.source, row, field, message, raw))

    def summary(self) -> str:
        return "errors: " + ", ".join(f"{c} x{n}" for c, n in self.codes.most_common())


def _mapped(table: pa.Table, mapping: dict[str, str], source: str) -> pa.Table:
    """Rename source columns to field paths; a mapped column the input lacks is fatal."""
    missing = [c for c in mapping if c not in table.column_names]
    if missing:
        raise SchemaError(f"score input {source} lacks column(s) {missing} (it has "
                          f"{table.column_names}); the mapping needs "
                          + ", ".join(f"{c} -> {mapping[c]}" for c in missing))
    keep = [c for c in table.column_names if c in mapping]
    return table.select(keep).rename_columns([mapping[c] for c in keep])


def known_identities(platform: Any, target: DatasetRecord) -> pa.Array:
    """Identities in the target's primary namespace held by the other profile-enabled
    datasets (score datasets excepted): the people a score may be about."""
    primary = target.schema.primary_identity
    if primary is None:
        return pa.array([], pa.string())
    parts: list[sqlglot.exp.Expr] = []
    params: dict[str, Any] = {}
    for ds in platform.lake.datasets():
        if not ds.profile_enabled or ds.id == target.id or ds.tags.get(SCORES_TAG) \
                or ds.version < 0:
            continue
        files = platform.lake.files(ds)
        for desc in ds.schema.identities:
            if desc.namespace != primary.namespace or not files:
                continue
            name = f"f{len(params)}"
            params[name] = files
            parts.append(_distinct_ids(desc.path, name))
    if not parts:
        return pa.array([], pa.string())
    query = parts[0]
    for part in parts[1:]:
        query = sqlglot.exp.union(query, part, distinct=True)
    return reader(platform, query, params).read_all().column(0).combine_chunks()


def _distinct_ids(path: str, files_param: str) -> sqlglot.exp.Select:
    exp = sqlglot.exp
    column = exp.Dot.build([exp.to_identifier(p, quoted=True) for p in path.split(".")]) \
        if "." in path else exp.column(path, quoted=True)
    return (exp.select(exp.cast(column, "VARCHAR").as_("id")).distinct()
            .from_(read_files(files_param)))
