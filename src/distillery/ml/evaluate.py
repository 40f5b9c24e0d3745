"""Held-out evaluation of a calibrated model: metrics, lift per decile, reliability, feature
importance, and the plots that show them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from distillery.ml import metrics, plots
from distillery.ml.calibrate import correct_for_sampling
from distillery.ml.model import CalibratedModel

_IMPORTANCE_ROWS = 5_000
_REPEATS = 3


@dataclass
class Evaluation:
    """What the test rows say about a model.

    Attributes:
        metrics: Flat test metrics (see `metrics.summary`), plus roc_auc_uncalibrated.
        deciles: Lift and capture per decile.
        reliability: Equal-count reliability table (what the diagram shows).
        reliability_uniform: Equal-width reliability table (what `ece` averages).
        importance: Drop in test ROC AUC when each feature is shuffled.
        p: Test probabilities; y: test labels; weight: test row weights (or None).
    """

    metrics: dict[str, float]
    deciles: list[dict[str, Any]]
    reliability: list[dict[str, float]]
    reliability_uniform: list[dict[str, float]]
    p: np.ndarray
    y: np.ndarray
    importance: dict[str, float] = field(default_factory=dict)
    weight: np.ndarray | None = None


def run(model: CalibratedModel, frame: pd.DataFrame, y: np.ndarray, test: np.ndarray,
        threshold: float, weight: np.ndarray | None, seed: int) -> Evaluation:
    """Score the test rows and compute every held-out measure."""
    x_test, y_test = frame.iloc[test], y[test]
    w = None if weight is None else weight[test]
    raw = model.raw_score(x_test)
    p = correct_for_sampling(model.calibrator.predict(raw), model.negative_rate)
    summary = metrics.summary(y_test, p, threshold, w)
    summary["roc_auc_uncalibrated"] = float(roc_auc_score(y_test, raw, sample_weight=w))
    return Evaluation(
        metrics=summary, deciles=metrics.deciles(y_test, p, w),
        reliability=metrics.reliability(y_test, p, w, adaptive=True),
        reliability_uniform=metrics.reliability(y_test, p, w),
        importance=importance(model, x_test, y_test, seed), p=p, y=y_test, weight=w)


def importance(model: CalibratedModel, x: pd.DataFrame, y: np.ndarray, seed: int
               ) -> dict[str, float]:
    """Permutation importance: mean drop in ROC AUC when a feature's values are shuffled (the
    same measure for every family, on rows the model never saw).

    Each feature is shuffled `_REPEATS` times. The rows are coerced once rather than once per
    shuffle (scikit-learn's `permutation_importance` runs the whole pipeline for every one,
    which was most of a training's evaluation); when the preparation keeps every feature as
    its own column, they are prepared once too and the shuffles go straight to the estimator.
    """
    rng = np.random.default_rng(seed)
    if len(x) > _IMPORTANCE_ROWS:
        rows = rng.choice(len(x), _IMPORTANCE_ROWS, replace=False)
        x, y = x.iloc[rows], y[rows]
    if len(np.unique(y)) < 2:
        return dict.fromkeys(x.columns, 0.0)
    steps = model.pipeline.steps
    data, rest = steps[0][1].transform(x), model.pipeline[1:]
    if len(steps) == 3 and list(steps[1][1].get_feature_names_out()) == list(data.columns):
        # Output names equal to input names: each output column is its feature alone (no
        # indicators, no one-hot), so shuffling it after preparation is shuffling the feature.
        data, rest = steps[1][1].transform(data), steps[2][1]
    data = data.reset_index(drop=True)

    def score(frame: pd.DataFrame) -> float:
        return float(roc_auc_score(y, rest.predict_proba(frame)[:, 1]))

    base = score(data)
    orders = [rng.permutation(len(data)) for _ in range(_REPEATS)]
    drops = {}
    for column in data.columns:
        original = data[column]
        scores = []
        for order in orders:
            data[column] = original.iloc[order].reset_index(drop=True)
            scores.append(score(data))
        data[column] = original
        drops[column] = base - float(np.mean(scores))
    return {c: drops.get(c, 0.0) for c in x.columns}


def draw(folder: Path, evaluation: Evaluation, model: CalibratedModel, frame: pd.DataFrame,
         baselines: dict[str, float], *, shap: bool, seed: int) -> list[str]:
    """Write the plots into `folder`; return notes about plots that could not be drawn."""
    e, notes = evaluation, []
    plots.roc(folder, e.y, e.p, e.metrics["roc_auc"], baselines)
    plots.precision_recall(folder, e.y, e.p, e.metrics["pr_auc"])
    plots.gains(folder, e.deciles)
    plots.reliability(folder, e.reliability, e.metrics["ece"])
    plots.importance(folder, e.importance, "drop in test ROC AUC when shuffled")
    if shap:
        try:
            if plots.shap_summary(folder, model, frame, seed) is None:
                notes.append("no SHAP summary: pip install 'distillery[shap]' (or shap)")
        except Exception as exc:  # SHAP's support varies by model; the training still stands.
            notes.append(f"no SHAP summary: {type(exc).__name__}: {exc}")
    return notes
