"""Evaluation of predicted probabilities: ranking, calibration, lift, and a confusion matrix.

Every function takes optional row weights, so a test set whose negatives were sampled is scored
as the population it stands for.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
)

_EPS = 1e-6
BINS = 10


def summary(y: np.ndarray, p: np.ndarray, threshold: float,
            weight: np.ndarray | None = None) -> dict[str, float]:
    """Held-out metrics of probabilities `p` for labels `y`.

    Returns:
        roc_auc, pr_auc, log_loss, brier, ece (10 equal-width bins), ece_adaptive (10
        equal-count bins), mean_predicted, observed_rate, calibration_in_the_large (mean
        predicted / observed - 1), and the confusion at `threshold` (threshold, tp, fp, tn,
        fn, precision, recall, accuracy, f1).
    """
    w = np.ones_like(p) if weight is None else weight
    mean_p = float(np.average(p, weights=w))
    observed = float(np.average(y, weights=w))
    out = {
        "roc_auc": float(roc_auc_score(y, p, sample_weight=weight)),
        "pr_auc": float(average_precision_score(y, p, sample_weight=weight)),
        "log_loss": float(log_loss(y, np.clip(p, _EPS, 1 - _EPS), sample_weight=weight,
                                   labels=[0, 1])),
        "brier": float(brier_score_loss(y, p, sample_weight=weight)),
        "ece": expected_calibration_error(y, p, weight, adaptive=False),
        "ece_adaptive": expected_calibration_error(y, p, weight, adaptive=True),
        "mean_predicted": mean_p,
        "observed_rate": observed,
        "calibration_in_the_large": mean_p / observed - 1.0 if observed else float("nan"),
    }
    return out | confusion(y, p, threshold, weight)


def confusion(y: np.ndarray, p: np.ndarray, threshold: float,
              weight: np.ndarray | None = None) -> dict[str, float]:
    """The confusion matrix at `threshold` (predicted positive when p >= threshold)."""
    w = np.ones_like(p) if weight is None else weight
    hit = p >= threshold
    tp, fp = float(w[hit & (y == 1)].sum()), float(w[hit & (y == 0)].sum())
    fn, tn = float(w[~hit & (y == 1)].sum()), float(w[~hit & (y == 0)].sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {"threshold": float(threshold), "tp": tp, "fp": fp, "tn": tn, "fn": fn,
            "precision": precision, "recall": recall,
            "accuracy": (tp + tn) / max(tp + fp + tn + fn, _EPS),
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0}


def best_f1_threshold(y: np.ndarray, p: np.ndarray, weight: np.ndarray | None = None) -> float:
    """The probability threshold with the highest F1 (chosen on development rows, not test)."""
    precision, recall, thresholds = precision_recall_curve(y, p, sample_weight=weight)
    f1 = 2 * precision * recall / np.maximum(precision + recall, _EPS)
    return float(thresholds[int(np.argmax(f1[:-1]))]) if len(thresholds) else 0.5


def reliability(y: np.ndarray, p: np.ndarray, weight: np.ndarray | None = None, *,
                bins: int = BINS, adaptive: bool = False) -> list[dict[str, float]]:
    """Reliability table: per bin of predicted probability, mean prediction vs observed rate.

    Args:
        adaptive: Equal-count bins (quantiles of p) instead of equal-width bins on [0, 1].
    """
    w = np.ones_like(p) if weight is None else weight
    if adaptive:
        edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    else:
        edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        m = index == b
        if not m.any():
            continue
        rows.append({"low": float(edges[b]), "high": float(edges[b + 1]),
                     "count": float(w[m].sum()),
                     "mean_predicted": float(np.average(p[m], weights=w[m])),
                     "observed": float(np.average(y[m], weights=w[m]))})
    return rows


def expected_calibration_error(y: np.ndarray, p: np.ndarray, weight: np.ndarray | None = None,
                               *, bins: int = BINS, adaptive: bool = False) -> float:
    """Weighted mean, over bins, of |mean prediction - observed rate|."""
    table = reliability(y, p, weight, bins=bins, adaptive=adaptive)
    total = sum(r["count"] for r in table)
    return float(sum(r["count"] * abs(r["mean_predicted"] - r["observed"]) for r in table)
                 / total) if total else float("nan")


def deciles(y: np.ndarray, p: np.ndarray, weight: np.ndarray | None = None
            ) -> list[dict[str, Any]]:
    """Lift and capture per decile of score (decile 1 holds the highest scores).

    Each row: decile, rows, positives, rate, lift (rate / overall rate), capture (share of all
    positives in the decile), cumulative_capture and cumulative_lift, min_score, max_score.
    """
    w = np.ones_like(p) if weight is None else weight
    order = np.argsort(-p, kind="stable")
    cum = np.cumsum(w[order])
    index = np.minimum((cum - w[order]) / cum[-1] * 10, 9).astype(int)
    total_pos = float((w * y).sum())
    overall = total_pos / float(w.sum())
    rows, seen_pos, seen_rows = [], 0.0, 0.0
    for d in range(10):
        m = order[index == d]
        rows_d, pos_d = float(w[m].sum()), float((w[m] * y[m]).sum())
        seen_pos, seen_rows = seen_pos + pos_d, seen_rows + rows_d
        rate = pos_d / rows_d if rows_d else 0.0
        rows.append({
            "decile": d + 1, "rows": rows_d, "positives": pos_d, "rate": rate,
            "lift": rate / overall if overall else 0.0,
            "capture": pos_d / total_pos if total_pos else 0.0,
            "cumulative_capture": seen_pos / total_pos if total_pos else 0.0,
            "cumulative_lift": (seen_pos / seen_rows) / overall if seen_rows and overall else 0.0,
            "min_score": float(p[m].min()) if len(m) else float("nan"),
            "max_score": float(p[m].max()) if len(m) else float("nan"),
        })
    return rows
