"""DuckDB and Spark build the same point-in-time training set from the same snapshot, row for
row and value for value, and compute the same features for scoring."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillery import Platform
from distillery.features import FeatureDefinition, build_training_set, compute_features
from tests.spark.compare import assert_same_rows
from tests.spark.conftest import AS_OF

pytestmark = [pytest.mark.spark, pytest.mark.slow]
CUTOFFS = [AS_OF - timedelta(days=42), AS_OF - timedelta(days=28)]


def dataset_rows(platform: Platform, name: str) -> pa.Table:
    """A dataset's current rows, read from its Parquet files (no engine involved)."""
    files = platform.lake.files(platform.dataset(name))
    return pa.concat_tables([pq.read_table(f) for f in files])


def test_training_sets_are_identical(engines: dict[str, Platform]) -> None:
    built = {name: build_training_set(p, "experience_events", f"training_{name}", CUTOFFS,
                                      horizon="14d")
             for name, p in engines.items()}
    duck, spark = built["duckdb"], built["spark"]
    # The same definition, but for when it was made.
    assert duck.definition.model_copy(update={"created_at": ""}) == \
        spark.definition.model_copy(update={"created_at": ""})
    assert (duck.rows, duck.positives, duck.per_cutoff) == (
        spark.rows, spark.positives, spark.per_cutoff)
    assert duck.rows > 1_000 and 0 < duck.positives < duck.rows
    left = dataset_rows(engines["duckdb"], "training_duckdb")
    right = dataset_rows(engines["spark"], "training_spark")
    assert left.num_rows == duck.rows
    key = duck.definition.identity_column
    assert_same_rows(left, right, keys=[key, "cutoff"])


def test_scoring_features_are_identical_with_a_later_snapshot_and_all_people(
        engines: dict[str, Platform]) -> None:
    """compute_features as scoring calls it: the first snapshot only (time travel), at a
    later cutoff, for everyone."""
    duck = engines["duckdb"]
    built = build_training_set(duck, "experience_events", "training_definition",
                               [CUTOFFS[0]], horizon="14d")
    definition = FeatureDefinition.model_validate(built.definition.model_dump(mode="json"))
    first = duck.dataset("experience_events").version - 1
    rows = {name: compute_features(p, definition, AS_OF, population="all",
                                   snapshot=first).read_all()
            for name, p in engines.items()}
    assert rows["duckdb"].num_rows > 0
    assert rows["duckdb"].num_rows < compute_features(duck, definition, AS_OF).read_all() \
        .num_rows  # the first snapshot holds half of the people
    assert_same_rows(rows["duckdb"], rows["spark"], keys=[definition.identity_column])
