"""Refusing features that carry the label.

Data Distiller's own churn example scores an AUC of 1.0 because a feature and the label are the
same expression. A feature whose values (a missing value counting as one) map one-to-one onto
the two classes is the label under another name: training refuses it, naming the column.
Features that rank the label almost perfectly on their own are only flagged (in the model card
and on the console), since they may be legitimate but deserve a look.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from distillery.ml.errors import LeakageError

SUSPECT_AUC = 0.99
_SAMPLE = 50_000


def check(frame: pd.DataFrame, y: np.ndarray, label: str, seed: int = 0
          ) -> list[dict[str, Any]]:
    """Raise on a feature that is the label; return the suspiciously strong ones.

    Args:
        frame: The features (see `prepare.to_frame`).
        y: The labels (0/1).
        label: The label column's name, for messages.
        seed: Seed of the row sample used for the single-feature AUCs.

    Returns:
        One {"feature", "roc_auc"} per feature whose own ROC AUC is at least 0.99 (or at most
        0.01).

    Raises:
        LeakageError: a feature's values map one-to-one onto the label's classes.
    """
    for column in frame.columns:
        if _is_label(frame[column], y):
            raise LeakageError(
                f"feature column {column!r} is the label {label!r} under another name (each "
                "of its values belongs to one class only): the model would learn the answer; "
                f"drop it from the training set or exclude it (--exclude {column})")
    return _suspects(frame, y, seed)


def _is_label(values: pd.Series, y: np.ndarray) -> bool:
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    if len(uniques) != 2:
        return False
    first = y[codes == 0]
    second = y[codes == 1]
    return bool((first == first[0]).all() and (second == second[0]).all()
                and first[0] != second[0])


def _suspects(frame: pd.DataFrame, y: np.ndarray, seed: int) -> list[dict[str, Any]]:
    rows = np.arange(len(y))
    if len(rows) > _SAMPLE:
        rows = np.random.default_rng(seed).choice(rows, _SAMPLE, replace=False)
    out = []
    for column in frame.columns:
        values = frame[column].iloc[rows]
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            continue
        score = values.to_numpy(dtype=np.float64)
        if np.isnan(score).all():
            continue
        # Missing ranks below every value, as "never happened" would.
        score = np.where(np.isnan(score), np.nanmin(score) - 1.0, score)
        auc = float(roc_auc_score(y[rows], score))
        if max(auc, 1 - auc) >= SUSPECT_AUC:
            out.append({"feature": column, "roc_auc": auc})
    return out
