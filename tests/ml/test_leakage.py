"""A feature that is the label is refused, naming it; strong ones are flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from distillery.ml.errors import LeakageError
from distillery.ml.leakage import check


def _frame(y: np.ndarray, **extra: object) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"noise": rng.random(len(y)), **extra})


Y = np.array([0, 1] * 200)


@pytest.mark.parametrize("leak", [
    Y.astype(float),                                    # the label itself
    1.0 - Y,                                            # recoded
    np.where(Y == 1, 1.0, np.nan),                      # CASE WHEN converted THEN 1 END
    np.where(Y == 1, "yes", "no").astype(object),       # as text
])
def test_a_feature_that_is_the_label_is_refused_by_name(leak: np.ndarray) -> None:
    with pytest.raises(LeakageError, match="'converted_copy' is the label 'label'"):
        check(_frame(Y, converted_copy=leak), Y, "label")


def test_honest_features_pass_and_very_strong_ones_are_flagged() -> None:
    rng = np.random.default_rng(1)
    strong = Y * 10 + rng.random(len(Y))  # separates perfectly but is not a recoding
    suspects = check(_frame(Y, strong=strong, weak=rng.random(len(Y))), Y, "label")
    assert [s["feature"] for s in suspects] == ["strong"]
    assert suspects[0]["roc_auc"] == 1.0
