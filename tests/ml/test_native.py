"""Boosted trees compiled to native code (TL2cgen + the machine's gcc) predict exactly what
the LightGBM booster predicts, are built once per model, and step aside, leaving the booster to
predict, whenever they cannot be built or would differ."""

from __future__ import annotations

import logging
import pickle
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from distillery.ml.calibrate import Isotonic
from distillery.ml.model import CalibratedModel
from distillery.ml.native import NativeTrees, compile_booster
from distillery.ml.prepare import TREE, pipeline, row_blocks, to_matrix

ROWS = 6000


def data(seed: int = 0, rows: int = ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Counts with many zeros, a duration with NaN, a flag, a wide-ranged amount."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(0.7, rows).astype(float)
    duration = rng.exponential(300.0, rows)
    duration[rng.random(rows) < 0.15] = np.nan
    flag = (rng.random(rows) < 0.3).astype(float)
    amount = rng.lognormal(3.0, 2.0, rows) * (rng.random(rows) < 0.5)
    x = np.column_stack([counts, duration, flag, amount])
    logit = 0.8 * counts - np.nan_to_num(duration, nan=900.0) / 300 + flag + \
        0.1 * np.log1p(amount) - 1.0
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return x, y


def booster(**params: object) -> lgb.Booster:
    x, y = data()
    base = {"objective": "binary", "num_leaves": 31, "min_data_in_leaf": 5, "verbose": -1,
            "seed": 0, "num_threads": 1}
    return lgb.train({**base, **params}, lgb.Dataset(x, y), num_boost_round=60)


# The ways of treating missing values that translate exactly, and a shallow model.
VARIANTS = {"default": {}, "no_missing": {"use_missing": False},
            "shallow": {"max_depth": 3, "num_leaves": 8}}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_compiled_trees_predict_exactly_what_the_booster_predicts(variant: str,
                                                                  tmp_path: Path) -> None:
    model = booster(**VARIANTS[variant])
    trees = compile_booster(model, tmp_path)
    assert isinstance(trees, NativeTrees)
    x, _ = data(seed=1)  # rows it was not trained on
    edge = x.copy()
    edge[::7] = 0.0
    edge[::11] = np.nan
    for rows in (x, edge, x[:1], x[:100]):
        want = model.predict(rows, num_threads=1)
        assert np.array_equal(trees.predict(rows, threads=2), want)
        assert np.array_equal(trees.predict(rows, threads=1), want)


def test_the_best_iteration_is_the_one_compiled(tmp_path: Path) -> None:
    x, y = data()
    valid = lgb.Dataset(*data(seed=2))
    model = lgb.train({"objective": "binary", "verbose": -1, "seed": 0}, lgb.Dataset(x, y),
                      num_boost_round=300, valid_sets=[valid], keep_training_booster=True,
                      callbacks=[lgb.early_stopping(5, verbose=False)])
    assert 0 < model.best_iteration < model.num_trees()
    trees = compile_booster(model, tmp_path)
    assert trees is not None
    assert np.array_equal(trees.predict(x), model.predict(x))


def test_a_library_is_built_once_per_model_and_kept_in_its_folder(tmp_path: Path) -> None:
    first = compile_booster(booster(), tmp_path)
    assert first is not None
    built = first.library.stat().st_mtime_ns
    again = compile_booster(booster(), tmp_path)  # the same model, trained again
    assert again is not None and again.library == first.library
    assert again.library.stat().st_mtime_ns == built
    other = compile_booster(booster(num_leaves=7), tmp_path)
    assert other is not None and other.library.parent != first.library.parent
    # Only published libraries: no build folder left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [first.library.parent.name, other.library.parent.name])
    assert (first.library.parent / "model.txt").read_text() == booster().model_to_string()


def test_without_a_c_compiler_the_booster_keeps_predicting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
        ) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # a machine with no gcc
    with caplog.at_level(logging.WARNING, logger="distillery.ml.native"):
        assert compile_booster(booster(), tmp_path / "native") is None
    assert "LightGBM's own predict" in caplog.text and "gcc" in caplog.text
    assert not (tmp_path / "native").exists() or not any((tmp_path / "native").iterdir())


def test_a_library_that_does_not_reproduce_its_booster_is_not_used(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    right = compile_booster(booster(), tmp_path)
    assert right is not None
    wrong = booster(num_leaves=4)
    # A damaged cache: the other model's library where this model's would be.
    from distillery.ml.native import _digest

    shutil.copytree(right.library.parent, tmp_path / _digest(wrong.model_to_string()))
    with caplog.at_level(logging.WARNING, logger="distillery.ml.native"):
        assert compile_booster(wrong, tmp_path) is None
    assert "differ" in caplog.text


def test_models_the_translation_cannot_reproduce_stay_on_the_booster(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    x, y = data()
    # Zeros as missing values: Treelite sends a missing value where LightGBM sends zero; the
    # probe rows (zeros and NaN on every feature) show it.
    zeros = booster(zero_as_missing=True)
    linear = lgb.train({"objective": "binary", "linear_tree": True, "verbose": -1},
                       lgb.Dataset(np.nan_to_num(x), y), num_boost_round=20)
    with caplog.at_level(logging.WARNING, logger="distillery.ml.native"):
        assert compile_booster(zeros, tmp_path) is None
        assert compile_booster(linear, tmp_path) is None
    assert caplog.text.count("LightGBM's own predict") == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_threads_predict_side_by_side(tmp_path: Path) -> None:
    model = booster()
    trees = compile_booster(model, tmp_path)
    assert trees is not None
    batches = [data(seed=s, rows=3000)[0] for s in range(8)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda b: trees.predict(b, threads=1), batches))
    for batch, probs in zip(batches, got, strict=True):
        assert np.array_equal(probs, model.predict(batch))


def test_a_calibrated_model_scores_the_same_compiled_and_pickles_without_it(
        tmp_path: Path) -> None:
    import pyarrow as pa
    from lightgbm import LGBMClassifier

    x, y = data()
    table = pa.table({"counts": pa.array(x[:, 0].astype(np.int64)), "duration": x[:, 1],
                      "flag": pa.array(x[:, 2] > 0), "amount": x[:, 3]})
    kinds = {"counts": "numeric", "duration": "numeric", "flag": "boolean",
             "amount": "numeric"}
    fitted = pipeline(kinds, TREE, LGBMClassifier(n_estimators=40, verbose=-1, n_jobs=1)
                      ).fit(table, y)
    model = CalibratedModel(fitted, Isotonic().fit(fitted.predict_proba(table)[:, 1], y), 0.5,
                            list(kinds), kinds, "lightgbm")
    want = model.probability(table)
    assert model.predictor == "lightgbm" and model.parallel_predict
    assert model.compile(tmp_path)
    assert model.predictor == "native" and not model.parallel_predict
    assert np.array_equal(model.probability(table, threads=2), want)
    shipped = pickle.loads(pickle.dumps(model))
    assert shipped.native is None and shipped.predictor == "lightgbm"
    assert np.array_equal(shipped.probability(table), want)


def test_row_blocks_hold_the_matrix_rows() -> None:
    import pyarrow as pa

    x, _ = data(rows=5000)
    table = pa.table({"a": pa.array(x[:, 0].astype(np.int64), mask=np.arange(5000) % 9 == 0),
                      "b": x[:, 1], "c": pa.array(x[:, 2] > 0)})
    kinds = {"a": "numeric", "b": "numeric", "c": "boolean"}
    blocks = [b.copy() for b in row_blocks(table, kinds, rows=1024)]
    assert [len(b) for b in blocks] == [1024] * 4 + [904]
    assert all(b.flags.c_contiguous for b in blocks)
    assert np.array_equal(np.vstack(blocks), to_matrix(table, kinds), equal_nan=True)
