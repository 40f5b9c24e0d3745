"""Scoring on Spark (the registered champion predicting on the executors with mapInArrow)
writes the same scores, deciles and percentiles as scoring on DuckDB."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest

from distillery import Platform, ml
from distillery.errors import ConfigError
from distillery.features import build_training_set
from distillery.scoring import score
from distillery.scoring import spark as spark_scoring
from tests.spark.compare import assert_same_rows
from tests.spark.conftest import AS_OF
from tests.spark.test_training_parity import dataset_rows

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def champion(engines: dict[str, Platform]) -> Any:
    """A LightGBM champion trained (on DuckDB) on a point-in-time training set."""
    duck = engines["duckdb"]
    build_training_set(duck, "experience_events", "scoring_training",
                       [AS_OF - timedelta(days=42), AS_OF - timedelta(days=28)], horizon="14d")
    ml.train(duck, "scoring_training", model="lightgbm", trials=0, folds=2, baseline=False,
             plots=False, shap=False, ground_truth=False, jobs=1)
    return ml.load_champion(duck)


def score_rows(platform: Platform, dataset: str) -> pa.Table:
    """(userid, propensity, decile, percentile, model) of a score dataset."""
    rows = dataset_rows(platform, dataset).column("_tenant").combine_chunks()
    fields = ["userid", "propensity", "decile", "percentile", "modelName", "modelVersion"]
    return pa.table({f: rows.field(f) for f in fields})


def test_scores_are_identical_on_both_engines(engines: dict[str, Platform],
                                              champion: Any) -> None:
    on_duck = score(engines["duckdb"], as_of=AS_OF, dataset="scores_duckdb")
    # Arrow batches of 100 rows: a batch of 700 people is 7 partitions, merged into 3 tasks
    # of several batches each, with two batches in flight; positions must line rows up.
    session = engines["spark"].engine.spark
    session.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "100")
    try:
        on_spark = spark_scoring.score(engines["spark"], as_of=AS_OF, dataset="scores_spark",
                                       partitions=3, batch_rows=700, threads=2)
    finally:
        session.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")
    assert on_spark.rows == on_duck.rows > 1_000
    assert (on_spark.run.model_name, on_spark.run.model_version) == (
        champion.name, str(champion.version))
    left = score_rows(engines["duckdb"], "scores_duckdb")
    right = score_rows(engines["spark"], "scores_spark")
    assert_same_rows(left, right, keys=["userid"])
    assert sorted(set(left.column("decile").to_pylist())) == list(range(1, 11))


def test_spark_scoring_refuses_a_platform_on_duckdb(engines: dict[str, Platform]) -> None:
    with pytest.raises(ConfigError, match="engine='spark'"):
        spark_scoring.score(engines["duckdb"], as_of=AS_OF)
