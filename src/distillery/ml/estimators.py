"""The model families: how to build each estimator, its search space, and how one tuning trial
fits it (with early stopping and Optuna pruning where the library offers them).

Each family is a `Family`: data, not a class hierarchy. Libraries are imported when a family is
used, so the CLI starts fast and xgboost stays optional.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from distillery.ml.errors import MissingExtraError, ModelOptionError
from distillery.ml.prepare import LINEAR, TREE, TREE_CODES

DEFAULT = "lightgbm"
# Boosting runs up to this many rounds; early stopping on the validation fold picks the number,
# stopping after PATIENCE rounds without a better validation ROC AUC (`train(patience=...)`).
_MAX_ROUNDS = 2000
PATIENCE = 50
_REPORT_EVERY = 10

Space = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class Fitted:
    """The outcome of one trial's fit.

    Attributes:
        score: Validation ROC AUC.
        rounds: Boosting rounds early stopping kept (None if not boosting or not stopped).
        p: The validation predictions behind `score` (a fold-0 model's out-of-fold scores, so
            cross-validation need not fit the best trial again).
    """

    score: float
    rounds: int | None = None
    p: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Family:
    """A model family.

    Attributes:
        name: The name used by `--model`.
        flavour: Which automatic preparation it needs (see `prepare.preparation`).
        defaults: Hyperparameters tried first (and used alone when there is no tuning).
        space: Draws hyperparameters from an Optuna trial.
        build: Makes the estimator from hyperparameters, a seed and a thread count.
        fit_trial: Fits on (X, y), scores on (Xv, yv); reports to the trial for pruning. It
            receives what `trial_data` made of them, and `early_stop`: the rounds without a
            better validation score after which boosting stops (0: no early stopping).
        rounds_param: The hyperparameter that early stopping sets (boosting only).
        trial_data: Turns the prepared (X, y, Xv, yv, seed) into what every trial of a search
            fits from, once per search (default: X, y, Xv, yv as they are).
    """

    name: str
    flavour: str
    defaults: dict[str, Any]
    space: Space
    build: Callable[[dict[str, Any], int, int], Any]
    fit_trial: Callable[..., Fitted]
    rounds_param: str | None = None
    aliases: tuple[str, ...] = field(default=())
    trial_data: Callable[..., tuple[Any, ...]] | None = None

    def search_data(self, X: Any, y: Any, Xv: Any, yv: Any, seed: int) -> tuple[Any, ...]:
        """The data every trial of a search fits from (see `trial_data`)."""
        return (X, y, Xv, yv) if self.trial_data is None else self.trial_data(X, y, Xv, yv, seed)


# LightGBM ----------------------------------------------------------------------------------


def _lightgbm_space(trial: Any) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 128, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 400, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30.0, log=True),
    }


def _lightgbm_build(params: dict[str, Any], seed: int, threads: int) -> Any:
    import lightgbm as lgb

    merged = {"n_estimators": _MAX_ROUNDS, **params}
    # No pre-filtering, as in a search's shared datasets (see `_lightgbm_data`): filtered
    # features would change which columns each tree samples, so the same hyperparameters
    # would grow other trees than the trial that chose them.
    return lgb.LGBMClassifier(**merged, subsample_freq=1, random_state=seed, n_jobs=threads,
                              verbose=-1, force_row_wise=True, feature_pre_filter=False)


def _lightgbm_data(X: Any, y: Any, Xv: Any, yv: Any, seed: int) -> tuple[Any, ...]:
    """The fit and validation rows binned once for every trial of a search.

    Binning the features was a quarter of a LightGBM trial. The binning parameters are the
    ones a trial's own fit would use (seed included: large sets are binned from a sample);
    pre-filtering is off because it depends on `min_child_samples`, which trials vary (it
    drops only features no split could use, so the trees are the same).
    """
    import lightgbm as lgb

    params = {"seed": seed, "verbose": -1, "feature_pre_filter": False}
    train = lgb.Dataset(X, y, params=params, free_raw_data=False)
    valid = train.create_valid(Xv, yv, params=params)
    train.construct()
    valid.construct()
    return train, valid, Xv, yv


# Parameters of the scikit-learn estimator that LightGBM's own training does not take.
_SKLEARN_ONLY = ("n_estimators", "class_weight", "importance_type", "objective")


def _lightgbm_fit(estimator: Any, train: Any, valid: Any, Xv: Any, yv: Any, trial: Any,
                  early_stop: int) -> Fitted:
    """Boost on the binned rows, round by round: early stopping on the validation ROC AUC
    (the best round kept after `early_stop` rounds without a strictly better one) and median
    pruning every `_REPORT_EVERY` rounds. The booster is the one `estimator.fit` would grow
    with the same parameters, round for round."""
    import lightgbm as lgb

    params = {k: v for k, v in estimator.get_params().items()
              if k not in _SKLEARN_ONLY and v is not None}
    booster = lgb.Booster({**params, "objective": "binary", "metric": "auc"}, train)
    booster.add_valid(valid, "valid")
    best, best_round = -np.inf, 0
    for done in range(1, estimator.n_estimators + 1):
        booster.update()
        score = booster.eval_valid()[0][2]
        if score > best:
            best, best_round = score, done
        if trial is not None and done % _REPORT_EVERY == 0:
            _report(trial, score, done)
        if early_stop and done - best_round >= early_stop:
            break
    rounds = best_round if early_stop else estimator.n_estimators
    p = np.asarray(booster.predict(Xv, num_iteration=rounds), dtype=np.float64)
    return Fitted(float(roc_auc_score(yv, p)), rounds if early_stop else None, p)


def _report(trial: Any, score: float, step: int) -> None:
    import optuna

    trial.report(score, step)
    if trial.should_prune():
        raise optuna.TrialPruned(f"pruned at round {step}")


# XGBoost (optional) -----------------------------------------------------------------------


def _xgboost_space(trial: Any) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 10),
        "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 50.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30.0, log=True),
    }


def _xgboost_module() -> Any:
    try:
        import xgboost
    except ImportError:
        raise MissingExtraError("model 'xgboost'", "xgboost-cpu", "xgboost") from None
    return xgboost


def _xgboost_build(params: dict[str, Any], seed: int, threads: int) -> Any:
    xgb = _xgboost_module()
    merged = {"n_estimators": _MAX_ROUNDS, **params}
    return xgb.XGBClassifier(**merged, tree_method="hist", enable_categorical=True,
                             eval_metric="auc", random_state=seed, n_jobs=threads)


def _xgboost_fit(estimator: Any, X: Any, y: Any, Xv: Any, yv: Any, trial: Any,
                 early_stop: int) -> Fitted:
    estimator.set_params(early_stopping_rounds=early_stop or None)
    estimator.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    rounds = (estimator.best_iteration + 1) if early_stop else None
    p = predict(estimator, Xv)
    return Fitted(float(roc_auc_score(yv, p)), rounds, p)


# scikit-learn -----------------------------------------------------------------------------


def _hist_space(trial: Any) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 4, 128, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 400, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-3, 30.0, log=True),
        "max_features": trial.suggest_float("max_features", 0.3, 1.0),
    }


def _hist_build(params: dict[str, Any], seed: int, threads: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    merged = {"max_iter": _MAX_ROUNDS, **params}
    return HistGradientBoostingClassifier(**merged, early_stopping=False, random_state=seed)


def _hist_fit(estimator: Any, X: Any, y: Any, Xv: Any, yv: Any, trial: Any,
              early_stop: int) -> Fitted:
    if early_stop:
        # The loss is computed as the model boosts; a scorer would predict anew each round.
        estimator.set_params(early_stopping=True, n_iter_no_change=max(early_stop // 2, 1),
                             scoring="loss")
        estimator.fit(X, y, X_val=Xv, y_val=yv)
        estimator.set_params(early_stopping=False)
    else:
        estimator.fit(X, y)
    p = predict(estimator, Xv)
    return Fitted(float(roc_auc_score(yv, p)), int(estimator.n_iter_) if early_stop else None, p)


def _forest_space(trial: Any) -> dict[str, Any]:
    return {
        "max_depth": trial.suggest_int("max_depth", 4, 24),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 200, log=True),
        "max_features": trial.suggest_float("max_features", 0.1, 1.0),
    }


def _forest_build(params: dict[str, Any], seed: int, threads: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    # Sub-sampling rows per tree keeps a trial fast on large sets and decorrelates the trees.
    merged = {"n_estimators": 200, "max_samples": 0.5, **params}
    return RandomForestClassifier(**merged, random_state=seed, n_jobs=threads)


def _logreg_space(trial: Any) -> dict[str, Any]:
    return {"C": trial.suggest_float("C", 1e-4, 10.0, log=True)}


def _logreg_build(params: dict[str, Any], seed: int, threads: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    merged = {"C": 1.0, "max_iter": 2000, **params}
    if merged.get("l1_ratio"):
        merged.setdefault("solver", "saga")
    return LogisticRegression(**merged, random_state=seed)


def _plain_fit(estimator: Any, X: Any, y: Any, Xv: Any, yv: Any, trial: Any,
               early_stop: int) -> Fitted:
    estimator.fit(X, y)
    p = predict(estimator, Xv)
    return Fitted(float(roc_auc_score(yv, p)), p=p)


FAMILIES: dict[str, Family] = {
    f.name: f for f in (
        Family("lightgbm", TREE, {"learning_rate": 0.05, "num_leaves": 31,
                                  "min_child_samples": 20, "subsample": 0.8,
                                  "colsample_bytree": 0.8, "reg_lambda": 1.0},
               _lightgbm_space, _lightgbm_build, _lightgbm_fit, "n_estimators",
               aliases=("lgbm", "gradient_boosted_tree_classifier", "gbt"),
               trial_data=_lightgbm_data),
        Family("logreg", LINEAR, {"C": 1.0}, _logreg_space, _logreg_build, _plain_fit,
               aliases=("logistic_reg", "logistic_regression", "logistic")),
        Family("hist_gbm", TREE, {"learning_rate": 0.05, "max_leaf_nodes": 31,
                                  "min_samples_leaf": 20, "l2_regularization": 1.0,
                                  "max_features": 0.8},
               _hist_space, _hist_build, _hist_fit, "max_iter",
               aliases=("hist_gradient_boosting", "histgradientboosting")),
        Family("random_forest", TREE_CODES, {"max_depth": 12, "min_samples_leaf": 10,
                                             "max_features": 0.5},
               _forest_space, _forest_build, _plain_fit,
               aliases=("random_forest_classifier", "rf")),
        Family("xgboost", TREE, {"learning_rate": 0.05, "max_depth": 6, "min_child_weight": 1.0,
                                 "subsample": 0.8, "colsample_bytree": 0.8, "reg_lambda": 1.0},
               _xgboost_space, _xgboost_build, _xgboost_fit, "n_estimators",
               aliases=("xgb",)),
    )
}
_ALIASES = {a: f.name for f in FAMILIES.values() for a in (f.name, *f.aliases)}


def family(name: str) -> Family:
    """The family called `name` (or one of its aliases, such as AEP's 'logistic_reg').

    Raises:
        ModelOptionError: the name is unknown.
        MissingExtraError: the family needs an optional library that is not installed.
    """
    key = _ALIASES.get(name.strip().lower())
    if key is None:
        raise ModelOptionError(f"model {name!r} is unknown: use one of "
                               f"{', '.join(FAMILIES)}")
    if key == "xgboost":
        _xgboost_module()
    return FAMILIES[key]


def available() -> list[str]:
    """The families usable here (xgboost only when xgboost-cpu is installed)."""
    out = []
    for name in FAMILIES:
        try:
            family(name)
        except MissingExtraError:
            continue
        out.append(name)
    return out


def final_params(fam: Family, params: dict[str, Any], rounds: int | None) -> dict[str, Any]:
    """Hyperparameters for a fit without a validation set: early stopping's rounds fixed."""
    if fam.rounds_param is None or rounds is None:
        return dict(params)
    return {**params, fam.rounds_param: max(int(rounds), 1)}


def predict(estimator: Any, X: Any) -> np.ndarray:
    """P(positive) from a fitted estimator."""
    return np.asarray(estimator.predict_proba(X)[:, 1], dtype=np.float64)
