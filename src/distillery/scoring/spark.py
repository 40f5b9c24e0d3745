"""Scoring on Spark: the registered model predicts on the executors, in parallel.

    from distillery.scoring import spark as spark_scoring

    platform = Platform.open(home, engine="spark")
    result = spark_scoring.score(platform, "propensity@champion", as_of="2025-03-01")

Everything but the prediction is `distillery.scoring.score` itself, so the two engines cannot
drift apart and nothing downstream knows which engine ran:

1. Features: `compute_features` with the model's feature definition, on the platform's
   engine (Spark computes the per-person, per-event-type aggregates from the snapshot's
   Parquet files; the driver places them into one row per person, as on DuckDB).
2. Prediction: each batch of features becomes a Spark DataFrame whose partitions the executors
   score with `mapInArrow`, calling the model's own `probability` on Arrow batches cast back to
   the feature types, so each row gets the value it gets on DuckDB. Rows carry their position,
   so the order of the partitions does not matter.
3. Ranks, the monitoring sample, delivery (batch ingestion into the score dataset, or the CSV
   pick-up) and the run record: unchanged.

Why `mapInArrow` rather than `mlflow.pyfunc.spark_udf`: spark_udf is a pandas UDF (PySpark does
not support pandas 3 fully) and converts every batch to pandas and back; `mapInArrow` stays in
Arrow, and the model is the one `load_model` loaded (the registry's champion by default). The
executors need the model's code: Distillery and the model's libraries (LightGBM, scikit-learn)
installed in their Python (see docs/spark.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from distillery.engines.spark import is_connect
from distillery.engines.spark_results import quiet_pandas_check
from distillery.errors import ConfigError
from distillery.scoring.errors import ScoringError
from distillery.scoring.model import DEFAULT_MODEL, ModelRef, ScoringModel, load_model
from distillery.scoring.run import ScoreResult
from distillery.scoring.run import score as score_run

ROW = "__row"
_OUTPUT = f"{ROW} long, propensity double"


def score(platform: Any, model: str | ModelRef | ScoringModel = DEFAULT_MODEL, *,
          partitions: int | None = None, **options: Any) -> ScoreResult:
    """Score every person with predictions on the Spark executors.

    Args:
        platform: A platform on the Spark engine (`Platform.open(home, engine="spark")`).
        model: `name@alias` (default: the champion), `name/version`, or a ScoringModel.
        partitions: At most this many tasks score each batch of features (default: Spark's
            default parallelism, one per executor core).
        **options: The options of `distillery.scoring.score` (as_of, dataset, deliver,
            batch_rows, threads, sample_rows, ...).

    Raises:
        ConfigError: the platform's engine is not Spark.
        ScoringError, ModelNotFoundError: as `distillery.scoring.score`.
    """
    spark = spark_session_of(platform)
    chosen = model if isinstance(model, ScoringModel) else load_model(platform, model)
    return score_run(platform, on_spark(spark, chosen, partitions=partitions), **options)


def spark_session_of(platform: Any) -> Any:
    """The Spark session of a platform on the Spark engine.

    Raises:
        ConfigError: the platform runs on another engine.
    """
    if platform.config.engine != "spark":
        raise ConfigError("scoring on Spark needs a platform on the Spark engine: "
                          "Platform.open(home, engine='spark'), --engine spark or "
                          "DISTILLERY__ENGINE=spark")
    return platform.engine.spark


def on_spark(spark: Any, model: ScoringModel, *, partitions: int | None = None
             ) -> ScoringModel:
    """The same model, whose `probability` runs on the executors of `spark`."""
    predictor = SparkPredictor(spark, model.probability, partitions)
    return dataclasses.replace(model, probability=predictor)


class SparkPredictor:
    """`probability(features)` computed by Spark's executors, one partition per task."""

    def __init__(self, spark: Any, probability: Callable[[Any], Any],
                 partitions: int | None = None) -> None:
        self.spark = spark
        self.probability = probability
        self.partitions = partitions

    def __call__(self, features: pa.Table) -> np.ndarray:
        """One probability per row of `features`, in the rows' order."""
        n = features.num_rows
        if n == 0:
            return np.empty(0)
        positioned = features.append_column(ROW, pa.array(np.arange(n, dtype=np.int64)))
        with quiet_pandas_check():
            frame = self.spark.createDataFrame(positioned)
            tasks = self.partitions or _parallelism(self.spark)
            if tasks:
                # createDataFrame makes a partition per 10,000 rows; each task unpickles the
                # model, so merge them (without a shuffle) into one per core.
                frame = frame.coalesce(tasks)
            scored = frame.mapInArrow(_partition_scorer(self.probability, features.schema),
                                      _OUTPUT)
        return _in_order(scored.toArrow(), n)


def _parallelism(spark: Any) -> int | None:
    """Cores the executors have (classic Spark), None when the session cannot tell."""
    if is_connect(spark):
        return None
    return int(spark.sparkContext.defaultParallelism)


def _partition_scorer(probability: Callable[[Any], Any], schema: pa.Schema
                      ) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """What each task runs: the model on the partition's batches, with the features cast
    back to the types they had on the driver (Spark's round trip may change a type, such as
    a dictionary or large string, and the model must see what it sees on DuckDB)."""

    def score_partition(batches: Iterator[Any]) -> Iterator[Any]:
        import numpy
        import pyarrow

        for batch in batches:
            if batch.num_rows == 0:
                continue
            table = pyarrow.Table.from_batches([batch])
            rows = table.column(ROW)
            features = table.drop_columns([ROW]).select(schema.names).cast(schema)
            values = numpy.asarray(probability(features), dtype=numpy.float64).reshape(-1)
            yield pyarrow.RecordBatch.from_arrays(
                [rows.combine_chunks(), pyarrow.array(values)], names=[ROW, "propensity"])

    return score_partition


def _in_order(scored: pa.Table, rows: int) -> np.ndarray:
    """Probabilities placed back at their rows' positions; every row exactly once."""
    positions = scored.column(ROW).to_numpy()
    values = scored.column("propensity").to_numpy(zero_copy_only=False)
    if len(positions) != rows or len(np.unique(positions)) != rows:
        raise ScoringError(f"Spark returned {len(positions)} scores for {rows} rows; "
                           "every row must be scored exactly once")
    out = np.empty(rows, dtype=np.float64)
    out[positions] = values
    return out
