"""Cross-validation by person folds: fold ROC AUCs and out-of-fold scores.

The out-of-fold score of a development row comes from the fold model that did not see it; the
fold AUCs give the mean and spread that a single hold-out cannot (it moves by about 0.01 on the
reference scenario), and the scores are what calibration learns from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from distillery.ml import prepare
from distillery.ml.estimators import Family, predict
from distillery.ml.split import Split


@dataclass(frozen=True)
class CrossValidation:
    """Fold AUCs and out-of-fold scores of the development rows.

    Attributes:
        aucs: ROC AUC of each fold.
        oof: Out-of-fold raw score per development row (in `split.dev` order).
        fold: Fold number per development row (in `split.dev` order).
    """

    aucs: list[float]
    oof: np.ndarray
    fold: np.ndarray

    @property
    def mean(self) -> float:
        """Mean fold ROC AUC."""
        return float(np.mean(self.aucs))

    @property
    def std(self) -> float:
        """Standard deviation of the fold ROC AUCs."""
        return float(np.std(self.aucs, ddof=1)) if len(self.aucs) > 1 else 0.0


def fit(fam: Family, kinds: dict[str, str], frame: pd.DataFrame, y: np.ndarray,
        params: dict[str, Any], seed: int) -> Any:
    """Fit the whole pipeline (coerce, prepare, estimator) on `frame`, with one thread."""
    return prepare.pipeline(kinds, fam.flavour, fam.build(params, seed, 1)).fit(frame, y)


def fold_tasks(fam: Family, kinds: dict[str, str], frame: pd.DataFrame, y: np.ndarray,
               split: Split, params: dict[str, Any], seed: int
               ) -> list[Callable[[], np.ndarray]]:
    """One task per fold: fit on the fold's training rows, score its validation rows."""
    def task(fit_rows: np.ndarray, valid_rows: np.ndarray) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            model = fit(fam, kinds, frame.iloc[fit_rows], y[fit_rows], params, seed)
            return predict(model, frame.iloc[valid_rows])

        return run

    return [task(f, v) for f, v in split.folds]


def collect(split: Split, y: np.ndarray, scores: list[np.ndarray]) -> CrossValidation:
    """Assemble the fold tasks' scores into out-of-fold scores and fold AUCs."""
    oof = np.empty(len(split.dev))
    fold = np.empty(len(split.dev), dtype=np.int32)
    aucs = []
    for k, ((_, valid_rows), s) in enumerate(zip(split.folds, scores, strict=True)):
        # Development rows are sorted, so a row's position among them is a binary search.
        where = np.searchsorted(split.dev, valid_rows)
        oof[where], fold[where] = s, k
        aucs.append(float(roc_auc_score(y[valid_rows], s)))
    return CrossValidation(aucs=aucs, oof=oof, fold=fold)
