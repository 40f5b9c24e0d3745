"""Scoring a LightGBM model through its booster on one float64 matrix gives exactly what the
scikit-learn pipeline gives (the registered model's own path), on any number of threads."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from lightgbm import LGBMClassifier

from distillery.ml.calibrate import Isotonic, correct_for_sampling
from distillery.ml.errors import TrainingError
from distillery.ml.model import CalibratedModel
from distillery.ml.prepare import TREE, pipeline, to_frame, to_matrix
from distillery.scoring import ScoringModel
from distillery.scoring.model import Predictor
from distillery.scoring.predict import predictor

ROWS = 4000


def features(seed: int = 0) -> tuple[pa.Table, np.ndarray]:
    """Counts (integers, some NULL), a recency (double, NULL and NaN), a flag (boolean with
    NULLs) and a category; the label depends on all of them."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(3, ROWS)
    recency = rng.exponential(500, ROWS)
    flag = rng.random(ROWS) < 0.4
    tier = rng.choice(["gold", "silver", "bronze"], ROWS)
    logit = 0.3 * counts - recency / 400 + flag - 1.0 + (tier == "gold")
    y = (rng.random(ROWS) < 1 / (1 + np.exp(-logit))).astype(int)
    recency[::97] = np.nan  # NaN as well as NULL: both are missing to the model
    table = pa.table({
        "userid": [f"p{i}" for i in range(ROWS)],
        "count_all": pa.array(counts, mask=rng.random(ROWS) < 0.05),
        "recency_min": pa.array(recency, mask=rng.random(ROWS) < 0.1),
        "flag": pa.array(flag, mask=rng.random(ROWS) < 0.05),
        "tier": pa.array(tier),
    })
    return table, y


def calibrated(table: pa.Table, y: np.ndarray, kinds: dict[str, str]) -> CalibratedModel:
    estimator = LGBMClassifier(n_estimators=40, num_leaves=15, n_jobs=1, verbose=-1,
                               random_state=0)
    fitted = pipeline(kinds, TREE, estimator).fit(table, y)
    raw = fitted.predict_proba(table)[:, 1]
    return CalibratedModel(fitted, Isotonic().fit(raw, y), 0.5, list(kinds), kinds,
                           "lightgbm")


def through_pipeline(model: CalibratedModel, data: object) -> np.ndarray:
    """What the model gives through scikit-learn, the path training evaluates."""
    raw = model.pipeline.predict_proba(data)[:, 1]
    return correct_for_sampling(model.calibrator.predict(raw), model.negative_rate)


NUMBERS = {"count_all": "numeric", "recency_min": "numeric", "flag": "boolean"}


def test_the_booster_on_a_matrix_equals_the_pipeline_on_every_input() -> None:
    table, y = features()
    model = calibrated(table, y, NUMBERS)
    assert model.parallel_predict
    want = through_pipeline(model, table)
    for data in (table, table.to_batches()[0], table.to_pandas(), table.select(
            list(reversed(table.column_names)))):
        for threads in (1, 2):
            assert np.array_equal(model.probability(data, threads=threads), want)
    other, _ = features(seed=1)  # rows it was not fitted on
    assert np.array_equal(model.probability(other, threads=2), through_pipeline(model, other))


def test_the_matrix_holds_what_the_pipeline_first_step_gives() -> None:
    table, _ = features()
    matrix = to_matrix(table, NUMBERS)
    assert matrix.shape == (ROWS, 3) and matrix.dtype == np.float64
    frame = to_frame(table, NUMBERS).to_numpy()
    assert np.array_equal(matrix, frame, equal_nan=True)
    assert np.isnan(matrix[:, 0]).sum() == table.column("count_all").null_count
    assert set(np.unique(matrix[~np.isnan(matrix[:, 2]), 2])) == {0.0, 1.0}
    with pytest.raises(TrainingError, match="'recency_min'"):
        to_matrix(table.drop_columns(["recency_min"]), NUMBERS)
    with pytest.raises(TrainingError, match="categorical"):
        to_matrix(table, {**NUMBERS, "tier": "categorical"})


def test_a_model_with_categories_keeps_the_pipeline() -> None:
    table, y = features()
    model = calibrated(table, y, {**NUMBERS, "tier": "categorical"})
    assert not model.parallel_predict
    assert np.array_equal(model.probability(table, threads=2), through_pipeline(model, table))


def test_scoring_gives_a_parallel_model_the_threads_and_one_batch_at_a_time() -> None:
    table, y = features()
    fast = ScoringModel.of(calibrated(table, y, NUMBERS), name="m", version=1)
    assert isinstance(fast.probability, Predictor)
    predict, workers = predictor(fast, 2)
    assert workers == 1 and predict.threads == 2
    # Spark ships the predictor to its executors.
    shipped = pickle.loads(pickle.dumps(predict))
    assert np.array_equal(shipped(table), fast.probability(table))

    slow = ScoringModel.of(calibrated(table, y, {**NUMBERS, "tier": "categorical"}),
                           name="m", version=2)
    predict, workers = predictor(slow, 2)
    assert workers == 2 and predict.threads == 1


def test_the_drift_sample_keeps_the_rows_with_the_smallest_random_keys() -> None:
    from distillery.scoring.predict import _Sampler

    sampler, rng = _Sampler(300, seed=4), np.random.default_rng(4)
    keys, people = [], []
    for b in range(5):
        ids = [f"p{b}-{i}" for i in range(1000)]
        batch = pa.record_batch({"userid": ids, "x": np.arange(1000.0) + b})
        sampler.add(batch, ["userid", "x"], np.arange(1000) / 1000)
        keys.append(rng.random(1000))  # the draws the sampler makes, in the same order
        people += ids
    smallest = {people[i] for i in np.argsort(np.concatenate(keys))[:300]}
    sample = sampler.table()
    assert sample.column_names == ["userid", "x", "propensity"]
    assert set(sample.column("userid").to_pylist()) == smallest
    for row in sample.to_pylist():  # each row keeps its own values
        batch, i = map(int, row["userid"][1:].split("-"))
        assert (row["x"], row["propensity"]) == (i + batch, i / 1000)


def test_compiled_trees_score_batches_side_by_side_with_the_same_results(
        tmp_path: Path) -> None:
    table, y = features()
    model = calibrated(table, y, NUMBERS)
    want = through_pipeline(model, table)
    assert model.compile(tmp_path)
    compiled = ScoringModel.of(model, name="m", version=1)
    assert compiled.probability.engine == "native"
    # Each worker thread runs its own batch on one thread: no batch-sized matrix to share.
    predict, workers = predictor(compiled, 2)
    assert workers == 2 and predict.threads == 1
    assert np.array_equal(predict(table), want)
    # Spark's executors get the booster: the compiled library stays on this machine.
    shipped = pickle.loads(pickle.dumps(predict))
    assert shipped.engine == "lightgbm" and np.array_equal(shipped(table), want)
