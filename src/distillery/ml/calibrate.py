"""Probabilities that mean something: calibration, and the correction for sampled negatives.

The calibrator learns from out-of-fold scores (what each development row got from a model that
did not see it), as scikit-learn's CalibratedClassifierCV does with `ensemble=False`. Isotonic
regression and Platt scaling are both cross-validated on those scores, by the same person folds,
and the one with the lower log loss is kept.

When the training-set builder kept only a share r of the negatives (as the reference does), a
model calibrated on that sample predicts the sample's odds, which are the population's divided
by r. The calibrator is fitted on the sample as it is, and `correct_for_sampling` then maps its
probability q back to the population: p = r q / (r q + 1 - q).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss

from distillery.ml.errors import ModelOptionError

METHODS = ("auto", "isotonic", "platt", "none")
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class Platt:
    """Platt scaling: a logistic regression on the score's logit."""

    method = "platt"

    def fit(self, scores: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> Platt:
        """Fit on raw scores and labels."""
        self.model_ = LogisticRegression(C=1e6).fit(_logit(scores)[:, None], y,
                                                    sample_weight=weight)
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities."""
        return self.model_.predict_proba(_logit(scores)[:, None])[:, 1]


class Isotonic:
    """Isotonic regression of the label on the score (monotone, piecewise constant)."""

    method = "isotonic"

    def fit(self, scores: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None
            ) -> Isotonic:
        """Fit on raw scores and labels."""
        self.model_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
            scores, y, sample_weight=weight)
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities."""
        return np.asarray(self.model_.predict(scores), dtype=np.float64)


class Identity:
    """No calibration: the model's own probabilities."""

    method = "none"

    def fit(self, scores: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None
            ) -> Identity:
        """Nothing to learn."""
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        """The scores unchanged."""
        return np.asarray(scores, dtype=np.float64)


_MAKERS: dict[str, Any] = {"isotonic": Isotonic, "platt": Platt, "none": Identity}


@dataclass
class Choice:
    """The calibrator kept, and how each candidate scored out of fold.

    Attributes:
        calibrator: Fitted on every out-of-fold score.
        method: "isotonic", "platt" or "none".
        scores: Per candidate, cross-validated log loss and Brier score on out-of-fold scores.
    """

    calibrator: Any
    method: str
    scores: dict[str, dict[str, float]] = field(default_factory=dict)


def choose(scores: np.ndarray, y: np.ndarray, fold: np.ndarray, method: str = "auto",
           weight: np.ndarray | None = None) -> Choice:
    """Pick and fit a calibrator on out-of-fold scores.

    Args:
        scores: Out-of-fold raw scores of the development rows.
        y: Their labels.
        fold: Their fold number (calibrators are compared by the same folds).
        method: "auto" (isotonic or Platt, whichever has the lower log loss), or one of
            "isotonic", "platt", "none".
        weight: Row weights (e.g. to undo negative sampling), if any.
    """
    if method not in METHODS:
        raise ModelOptionError(f"calibration {method!r} is unknown: use one of "
                               f"{', '.join(METHODS)}")
    candidates = ["isotonic", "platt", "none"] if method == "auto" else [method]
    report = {name: _cross_validate(name, scores, y, fold, weight) for name in candidates}
    eligible = [c for c in candidates if method != "auto" or c != "none"]
    best = min(eligible, key=lambda c: report[c]["log_loss"])
    return Choice(_MAKERS[best]().fit(scores, y, weight), best, report)


def _cross_validate(name: str, scores: np.ndarray, y: np.ndarray, fold: np.ndarray,
                    weight: np.ndarray | None) -> dict[str, float]:
    out = np.empty_like(scores, dtype=np.float64)
    for k in np.unique(fold):
        held = fold == k
        w = None if weight is None else weight[~held]
        out[held] = _MAKERS[name]().fit(scores[~held], y[~held], w).predict(scores[held])
    clipped = np.clip(out, _EPS, 1 - _EPS)
    return {"log_loss": float(log_loss(y, clipped, sample_weight=weight, labels=[0, 1])),
            "brier": float(brier_score_loss(y, out, sample_weight=weight))}


def correct_for_sampling(q: np.ndarray, negative_rate: float | None) -> np.ndarray:
    """Population probabilities from probabilities calibrated on a sample that kept a share
    `negative_rate` of the negatives (and every positive)."""
    if negative_rate is None or negative_rate >= 1.0:
        return q
    return negative_rate * q / (negative_rate * q + 1.0 - q)


def sample_negatives(y: np.ndarray, max_rows: int | None, seed: int
                     ) -> tuple[np.ndarray | None, float]:
    """Which rows to keep so that about `max_rows` remain: every positive and a seeded share
    of the negatives (never fewer negatives than positives).

    Returns:
        (mask of rows kept, share of negatives kept), or (None, 1.0) when nothing is dropped.
    """
    positives = int(np.count_nonzero(y == 1))
    negatives = len(y) - positives
    if max_rows is None or len(y) <= max_rows or negatives == 0:
        return None, 1.0
    rate = min(1.0, max(max_rows - positives, positives) / negatives)
    if rate >= 1.0:
        return None, 1.0
    keep = (y == 1) | (np.random.default_rng(seed).random(len(y)) < rate)
    return keep, rate


def sampling_weights(y: np.ndarray, negative_rate: float | None) -> np.ndarray | None:
    """Row weights that make a negatively sampled set stand for its population."""
    if negative_rate is None or negative_rate >= 1.0:
        return None
    return np.where(y == 1, 1.0, 1.0 / negative_rate)
