"""Pass two of scoring: deciles and percentiles over the whole scored population.

One engine query over the staged scores ranks everyone (a window over the whole file; DuckDB
sorts out of core when the population outgrows memory) and streams the rows back, shaped as the
score dataset's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlglot

from distillery.lake.schema import Schema
from distillery.scoring.engine import reader
from distillery.scoring.errors import ScoringError
from distillery.scoring.predict import PERSON, PROPENSITY

_RANKS = """
SELECT person, propensity,
       CAST(ceil(10 * cume_dist() OVER (ORDER BY propensity)) AS INTEGER) AS decile,
       CAST(ceil(100 * cume_dist() OVER (ORDER BY propensity)) AS INTEGER) AS percentile
FROM read_parquet($staging, hive_partitioning = false)
"""
_DUPLICATES = """
SELECT count(*) - count(DISTINCT person) AS duplicates, count(*) - count(person) AS missing,
       any_value(person) FILTER (WHERE person IN (
         SELECT person FROM read_parquet($staging, hive_partitioning = false)
         GROUP BY person HAVING count(*) > 1))
         AS example
FROM read_parquet($staging, hive_partitioning = false)
"""


def _query(platform: Any, template: str, staging: Path, batch_rows: int = 200_000
           ) -> pa.RecordBatchReader:
    return reader(platform, sqlglot.parse_one(template, read="duckdb"),
                  {"staging": str(staging)}, batch_size=batch_rows)


def check_people(platform: Any, staging: Path, model: str) -> None:
    """Each person is scored once: a duplicate or missing person id fails the run."""
    row = _query(platform, _DUPLICATES, staging).read_all().to_pylist()[0]
    if row["missing"]:
        raise ScoringError(f"the features for model {model!r} hold {row['missing']} row(s) "
                           "without a person id; nothing was written")
    if row["duplicates"]:
        raise ScoringError(f"the features for model {model!r} hold {row['duplicates']} "
                           f"duplicate person row(s), e.g. {row['example']!r}; every person "
                           "must be scored once, nothing was written")


def ranked(platform: Any, staging: Path, batch_rows: int = 200_000) -> pa.RecordBatchReader:
    """(person, propensity, decile, percentile) for everyone staged."""
    return _query(platform, _RANKS, staging, batch_rows)


def score_rows(ranks: pa.RecordBatchReader, schema: Schema, *, model: str, version: str,
               scored_at: datetime) -> pa.RecordBatchReader:
    """The ranked rows in the score dataset's shape (`_{tenant}` struct, no identityMap)."""
    arrow = schema.to_arrow()
    tenant_type = arrow.field(f"_{schema.tenant}").type

    def batches() -> Iterator[pa.RecordBatch]:
        for b in ranks:
            n = b.num_rows
            tenant = pa.StructArray.from_arrays(
                [b.column(PERSON), b.column(PROPENSITY), b.column("decile"),
                 b.column("percentile"), pa.array([model] * n, pa.string()),
                 pa.array([version] * n, pa.string()),
                 pa.array([scored_at] * n, tenant_type.field("scoredAt").type)],
                fields=list(tenant_type))
            yield pa.record_batch([pa.nulls(n, arrow.field("identityMap").type), tenant],
                                  schema=arrow.remove_metadata())

    return pa.RecordBatchReader.from_batches(arrow.remove_metadata(), batches())


def csv_rows(ranks: pa.RecordBatchReader, *, model: str, version: str,
             scored_at: datetime) -> pa.RecordBatchReader:
    """The ranked rows as the reference's score CSV (userId, prediction) plus decile,
    percentile, model_name, model_version, scored_at."""
    schema = pa.schema([("userId", pa.string()), ("prediction", pa.float64()),
                        ("decile", pa.int32()), ("percentile", pa.int32()),
                        ("model_name", pa.string()), ("model_version", pa.string()),
                        ("scored_at", pa.string())])
    stamp = scored_at.isoformat()

    def batches() -> Iterator[pa.RecordBatch]:
        for b in ranks:
            n = b.num_rows
            yield pa.record_batch([b.column(PERSON), b.column(PROPENSITY), b.column("decile"),
                                   b.column("percentile"), pa.array([model] * n),
                                   pa.array([version] * n), pa.array([stamp] * n)],
                                  schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())

