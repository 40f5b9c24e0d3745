"""Calibration chosen out of fold, and the correction for sampled negatives."""

from __future__ import annotations

import numpy as np
import pytest

from distillery.ml import calibrate, metrics
from distillery.ml.errors import ModelOptionError


def _scores(n: int = 20000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True probabilities, overconfident scores of them, and labels drawn from the truth."""
    rng = np.random.default_rng(seed)
    truth = 1 / (1 + np.exp(-rng.normal(-1.5, 1.0, n)))
    logit = np.log(truth / (1 - truth))
    scores = 1 / (1 + np.exp(-(2.5 * logit + 1.0)))  # too extreme and shifted
    return truth, scores, (rng.random(n) < truth).astype(int)


def test_calibration_repairs_miscalibrated_scores() -> None:
    _, scores, y = _scores()
    fold = np.arange(len(y)) % 5
    choice = calibrate.choose(scores, y, fold)
    before = metrics.expected_calibration_error(y, scores)
    after = metrics.expected_calibration_error(y, choice.calibrator.predict(scores))
    assert before > 0.05 and after < 0.01
    assert choice.method in ("isotonic", "platt")
    assert choice.scores[choice.method]["log_loss"] <= min(
        choice.scores[m]["log_loss"] for m in ("isotonic", "platt"))
    assert choice.scores["none"]["log_loss"] > choice.scores[choice.method]["log_loss"]


def test_platt_wins_on_a_logistic_distortion_with_few_rows() -> None:
    _, scores, y = _scores(n=400, seed=1)
    choice = calibrate.choose(scores, y, np.arange(len(y)) % 5)
    # A two-parameter map fits this distortion exactly; isotonic overfits 400 rows.
    assert choice.method == "platt"


def test_a_requested_method_is_used() -> None:
    _, scores, y = _scores(n=2000)
    assert calibrate.choose(scores, y, np.arange(2000) % 5, "isotonic").method == "isotonic"
    with pytest.raises(ModelOptionError, match="calibration 'beta' is unknown"):
        calibrate.choose(scores, y, np.arange(2000) % 5, "beta")


def test_sampling_correction_recovers_population_probabilities() -> None:
    truth, _, y = _scores(n=200_000, seed=2)
    rate = 0.2
    rng = np.random.default_rng(3)
    kept = (y == 1) | (rng.random(len(y)) < rate)
    # A calibrator fitted on the sample predicts the sample's odds (1/rate times too high).
    sample_p = rate ** -1 * truth / (rate ** -1 * truth + 1 - truth)
    fitted = calibrate.Isotonic().fit(sample_p[kept], y[kept])
    corrected = calibrate.correct_for_sampling(fitted.predict(sample_p), rate)
    assert abs(corrected.mean() - y.mean()) / y.mean() < 0.05
    assert np.average(fitted.predict(sample_p)) > 1.5 * y.mean()
    weights = calibrate.sampling_weights(y[kept], rate)
    assert weights is not None and np.isclose(np.average(y[kept], weights=weights), y.mean(),
                                              rtol=0.05)
    assert calibrate.correct_for_sampling(truth, None) is truth
