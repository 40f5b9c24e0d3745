"""Single-feature AUC against a binary label, with NULLs and categories handled.

A NULL carries information too (a recency is NULL for people who never had the event), so a
column is ranked with its NULLs first and again with them last, and the stronger of the two
separations is reported: it is what a model could get from that column alone. Text columns with
few distinct values are ranked by each value's share of positives (in-sample target encoding,
an upper bound on what the column can tell).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_CATEGORIES = 50


def auc(values: pa.Array, label: np.ndarray) -> float | None:
    """The AUC of `values` as a score for `label` (0/1), oriented so that the column's stronger
    direction is reported as is (an AUC of 0.02 is a separation as strong as 0.98).

    Returns None when the label has one class only, or a text column has too many values.
    """
    positives = int(label.sum())
    negatives = len(label) - positives
    if positives == 0 or negatives == 0:
        return None
    numbers = _numbers(values, label)
    if numbers is None:
        return None
    from scipy.stats import rankdata  # imported here: scipy is slow to import

    present = ~np.isnan(numbers)
    ranks = rankdata(numbers[present])
    missing = int((~present).sum())
    best = 0.5
    for nulls_first in (True, False):
        full = np.empty(len(numbers))
        full[present] = ranks + (missing if nulls_first else 0)
        full[~present] = (missing + 1) / 2 + (0 if nulls_first else present.sum())
        score = _from_ranks(full, label, positives, negatives)
        if abs(score - 0.5) > abs(best - 0.5):
            best = score
    return float(best)


def _from_ranks(ranks: np.ndarray, label: np.ndarray, positives: int, negatives: int) -> float:
    """Mann-Whitney U of the positives, scaled to [0, 1]."""
    u = ranks[label == 1].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


def _numbers(values: pa.Array, label: np.ndarray) -> np.ndarray | None:
    kind = values.type
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind) \
            or pa.types.is_decimal(kind):
        return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _target_rates(values, label)
    return None


def _target_rates(values: pa.Array, label: np.ndarray) -> np.ndarray | None:
    """Each row's category replaced by that category's share of positives (NULL stays NULL)."""
    encoded = pc.dictionary_encode(values)
    if len(encoded.dictionary) > MAX_CATEGORIES:
        return None
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    known = codes >= 0
    size = len(encoded.dictionary)
    totals = np.bincount(codes[known], minlength=size)
    hits = np.bincount(codes[known], weights=label[known], minlength=size)
    rates = hits / np.maximum(totals, 1)
    out = np.full(len(codes), np.nan)
    out[known] = rates[codes[known]]
    return out
