"""Splitting a training set by person and, when it has several cutoffs, by time.

No person has rows on both sides of any split: a person's rows at different cutoffs share
behaviour, so letting them straddle train and test would flatter the model. With several
cutoffs the test rows are those of the latest cutoff and training uses only earlier ones, as a
model in production is trained on the past and scores the present.

Layout: the test persons (`test_size` of them) are held out; the others form the development
rows, cut into `folds` person folds. Fold 0 is the validation fold of hyperparameter search;
all folds give the cross-validated scores and the out-of-fold predictions calibration learns
from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillery.ml.errors import TrainingError


@dataclass(frozen=True)
class Split:
    """Row indices of each part (indices into the training set).

    Attributes:
        dev: Development rows (tuning, cross-validation, final fit).
        test: Held-out rows (final evaluation only).
        folds: For each fold, (training rows, validation rows), both within `dev`.
        by_time: Whether the test rows are a later cutoff than the development rows.
        persons: Distinct persons in the training set.
    """

    dev: np.ndarray
    test: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    by_time: bool
    persons: int

    @property
    def tuning(self) -> tuple[np.ndarray, np.ndarray]:
        """(fit rows, validation rows) for hyperparameter search: fold 0."""
        return self.folds[0]


def make(y: np.ndarray, persons: np.ndarray | None, cutoffs: np.ndarray | None, *,
         folds: int = 5, test_size: float = 0.2, seed: int = 0, name: str = "training set"
         ) -> Split:
    """Split rows by person (and by time when `cutoffs` holds several values).

    Args:
        y: Labels (0/1), one per row.
        persons: Person key per row (None: every row is its own person).
        cutoffs: Cutoff time per row (None or a single value: no time split).
        folds: Person folds within the development rows (at least 2).
        test_size: Share of persons held out for the test (0 < test_size < 1).
        seed: Seed of the assignment of persons to parts.
        name: How to name the training set in errors.

    Raises:
        TrainingError: the options are out of range, or a part lacks a class.
    """
    if folds < 2:
        raise TrainingError(f"folds must be at least 2, got {folds}")
    if not 0 < test_size < 1:
        raise TrainingError(f"test_size must be between 0 and 1, got {test_size}")
    group, count = _groups(persons, len(y))
    rng = np.random.default_rng(seed)
    # Each person draws a uniform position; parts are ranges of it, so assignment is stable.
    position = rng.permutation(count)[group] / max(count, 1)
    is_test = position < test_size
    fold = np.floor((position - test_size) / (1 - test_size) * folds).clip(0, folds - 1)
    by_time = cutoffs is not None and len(np.unique(cutoffs)) > 1
    if by_time and cutoffs is not None:
        latest = cutoffs == cutoffs.max()
        test, dev = np.flatnonzero(is_test & latest), np.flatnonzero(~is_test & ~latest)
    else:
        test, dev = np.flatnonzero(is_test), np.flatnonzero(~is_test)
    parts = [(dev[fold[dev] != k], dev[fold[dev] == k]) for k in range(folds)]
    _check(y, test, "test part", name)
    for k, (fit, valid) in enumerate(parts):
        _check(y, valid, f"validation fold {k + 1} of {folds}", name)
        _check(y, fit, f"training part of fold {k + 1}", name)
    return Split(dev=dev, test=test, folds=parts, by_time=by_time, persons=count)


def _groups(persons: np.ndarray | None, rows: int) -> tuple[np.ndarray, int]:
    if persons is None:
        return np.arange(rows), rows
    _, inverse = np.unique(persons, return_inverse=True)
    return inverse.ravel(), int(inverse.max()) + 1 if rows else 0


def _check(y: np.ndarray, rows: np.ndarray, part: str, name: str) -> None:
    positives = int(y[rows].sum())
    if len(rows) == 0 or positives == 0 or positives == len(rows):
        raise TrainingError(
            f"{name}: the {part} has {len(rows)} rows and {positives} positives; each part "
            f"needs both classes (the set has {int(y.sum())} positives in {len(y)} rows): use "
            "fewer folds, a larger test share, or more data")
