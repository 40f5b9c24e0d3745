"""Quality and drift measures for monitoring: AUC, calibration, decisions at a threshold, and
the population stability index (PSI)."""

from __future__ import annotations

from typing import Any

import numpy as np

_EPS = 1e-4


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float | None:
    """Population stability index of `actual` against `expected`.

    Bins are the deciles of `expected` (its distinct values when it has fewer than `bins`),
    so a feature that takes few values (a count of rare events) is compared value by value.
    Below 0.1 is stable, 0.1 to 0.25 a shift worth a look, above 0.25 a population change.
    """
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e, a = e[np.isfinite(e)], a[np.isfinite(a)]
    if not len(e) or not len(a):
        return None
    distinct = np.unique(e)
    if len(distinct) <= bins:
        edges = (distinct[:-1] + distinct[1:]) / 2
    else:
        edges = np.unique(np.quantile(e, np.linspace(0, 1, bins + 1)[1:-1]))
    pe = np.bincount(np.searchsorted(edges, e, side="right"), minlength=len(edges) + 1) / len(e)
    pa = np.bincount(np.searchsorted(edges, a, side="right"), minlength=len(edges) + 1) / len(a)
    pe, pa = np.maximum(pe, _EPS), np.maximum(pa, _EPS)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Calibration by equal-count bins of predictions: mean predicted vs observed rate."""
    order = np.argsort(p, kind="stable")
    out = []
    for part in np.array_split(order, min(bins, len(order))):
        if len(part):
            out.append({"predicted": float(p[part].mean()), "observed": float(y[part].mean()),
                        "n": len(part)})
    return out


def calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the count-weighted gap between predicted and observed."""
    table = reliability(p, y, bins)
    total = sum(b["n"] for b in table)
    return float(sum(b["n"] * abs(b["predicted"] - b["observed"]) for b in table) / total)


def quality(p: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, Any]:
    """AUC, Brier score, calibration, and the 0/1 decision at `threshold` (the reference's
    Week 6 decides at 0.2)."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    decided = p >= threshold
    positives = int(y.sum())
    tp = int((decided & (y == 1)).sum())
    both = 0 < positives < len(y)
    return {
        "positives": positives,
        "observed_rate": float(y.mean()) if len(y) else None,
        "mean_predicted": float(p.mean()) if len(p) else None,
        "auc": float(roc_auc_score(y, p)) if both else None,
        "brier": float(brier_score_loss(y, p)) if len(y) else None,
        "calibration_error": calibration_error(p, y) if len(y) else None,
        "precision": tp / int(decided.sum()) if decided.any() else None,
        "recall": tp / positives if positives else None,
        "accuracy": float((decided == (y == 1)).mean()) if len(y) else None,
        "reliability": reliability(p, y) if len(y) else [],
    }
