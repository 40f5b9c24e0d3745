"""The search's trials grow the same models as cross-validation, so fold 0 is reused."""

from __future__ import annotations

import numpy as np
import pytest

from distillery.ml import crossval, estimators, parallel, prepare, split, tune
from tests.ml.conftest import make_set

KINDS = {"visits": "numeric", "spend": "numeric", "plan": "categorical",
         "opted_in": "boolean"}


@pytest.mark.parametrize("family", ["lightgbm", "hist_gbm", "logreg"])
def test_best_trial_predictions_are_fold_zero_of_cross_validation(family: str) -> None:
    table = make_set(4000, seed=3)
    frame = prepare.to_frame(table, KINDS)
    y = np.asarray(table["label"].to_numpy(), dtype=np.int64)
    parts = split.make(y, table["userid"].to_numpy(zero_copy_only=False), None, folds=3)
    fam = estimators.family(family)
    with parallel.one_thread_per_fit():
        found = tune.search(fam, KINDS, frame, y, parts, trials=4, seed=0, jobs=2)
        params = estimators.final_params(fam, found.params, found.rounds)
        fold0 = crossval.fold_tasks(fam, KINDS, frame, y, parts, params, 0)[0]()
    assert found.valid_p is not None and len(found.valid_p) == len(parts.folds[0][1])
    np.testing.assert_allclose(found.valid_p, fold0, rtol=1e-9, atol=1e-12)
    if fam.rounds_param is not None:
        assert found.rounds is not None and found.rounds >= 1


def test_patience_bounds_the_rounds_after_the_best(monkeypatch: pytest.MonkeyPatch) -> None:
    """A trial grows exactly `patience` rounds past its best one (the real booster's rounds,
    counted)."""
    import lightgbm as lgb

    table = make_set(4000, seed=5)
    frame = prepare.to_frame(table, KINDS)
    y = np.asarray(table["label"].to_numpy(), dtype=np.int64)
    parts = split.make(y, table["userid"].to_numpy(zero_copy_only=False), None, folds=3)
    fam = estimators.family("lightgbm")
    fit_rows, valid_rows = parts.tuning
    prep = prepare.preparation(KINDS, fam.flavour)
    data = fam.search_data(prep.fit_transform(frame.iloc[fit_rows]), y[fit_rows],
                           prep.transform(frame.iloc[valid_rows]), y[valid_rows], 0)
    grown: list[int] = []
    update = lgb.Booster.update

    def counting(self: lgb.Booster, *args: object, **kwargs: object) -> bool:
        grown.append(1)
        return update(self, *args, **kwargs)

    monkeypatch.setattr(lgb.Booster, "update", counting)
    for patience in (3, 30):
        grown.clear()
        fitted = fam.fit_trial(fam.build({"learning_rate": 0.2}, 0, 1), *data, None, patience)
        assert fitted.rounds is not None
        assert len(grown) == min(fitted.rounds + patience, 2000)
