"""Held-out metrics: calibration error, lift and capture, confusion."""

from __future__ import annotations

import itertools

import numpy as np

from distillery.ml import metrics


def test_perfect_calibration_has_near_zero_ece_and_a_biased_one_does_not() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.5, 100_000)
    y = (rng.random(len(p)) < p).astype(int)
    assert metrics.expected_calibration_error(y, p) < 0.005
    assert abs(metrics.expected_calibration_error(y, p * 1.5) - 0.5 * p.mean()) < 0.01
    summary = metrics.summary(y, p, 0.3)
    assert abs(summary["calibration_in_the_large"]) < 0.02
    assert summary["ece_adaptive"] < 0.005


def test_deciles_capture_every_positive_and_rank_by_score() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(5000)
    y = (rng.random(5000) < p).astype(int)
    table = metrics.deciles(y, p)
    assert [d["decile"] for d in table] == list(range(1, 11))
    assert sum(d["positives"] for d in table) == y.sum()
    assert np.isclose(table[-1]["cumulative_capture"], 1.0)
    assert table[0]["lift"] > 1.5 > 0.5 > table[-1]["lift"]
    assert all(a["min_score"] >= b["max_score"] for a, b in itertools.pairwise(table))


def test_confusion_at_a_threshold() -> None:
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([0.9, 0.2, 0.7, 0.1, 0.6])
    c = metrics.confusion(y, p, 0.5)
    assert (c["tp"], c["fp"], c["tn"], c["fn"]) == (2, 1, 1, 1)
    assert np.isclose(c["precision"], 2 / 3) and np.isclose(c["recall"], 2 / 3)
    assert np.isclose(c["accuracy"], 0.6)


def test_weights_stand_for_sampled_negatives() -> None:
    y = np.array([1, 0, 0, 1])
    p = np.array([0.8, 0.3, 0.1, 0.6])
    w = np.array([1.0, 5.0, 5.0, 1.0])
    assert metrics.summary(y, p, 0.5, w)["observed_rate"] == 2 / 12
    assert metrics.confusion(y, p, 0.5, w)["tn"] == 10.0
