"""Reading the clauses of Data Distiller's model statements: OPTIONS(...), TRANSFORM(...), and
the leakage check on the training query.

OPTIONS accepts the spellings of AEP's documentation (MODEL_TYPE or TYPE, LABEL, MAX_ITER,
REG_PARAM, ELASTIC_NET_PARAM, MAX_DEPTH, STEP_SIZE, NUM_TREES, SUBSAMPLING_RATE, ...) and maps
them onto the training options of `distillery.ml.training`, plus Distillery's own (TRIALS, FOLDS,
CALIBRATION, PERSON, ...). Any other option is refused, naming it.
"""

from __future__ import annotations

import re
from typing import Any

import sqlglot
from sqlglot import exp

from distillery.ml import estimators
from distillery.ml.errors import LeakageError, ModelOptionError

_OPTION = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^']|'')*'|\"[^\"]*\"|[^,]+?)"
                     r"\s*(?:,|$)")
# AEP model types that exist there but are not binary classifiers Distillery trains.
_UNSUPPORTED = ("linear_reg", "kmeans", "bisecting_kmeans", "gaussian_mixture", "lda",
                "decision_tree_classifier", "factorization_machines_classifier",
                "linear_svc_classifier", "multilayer_perceptron_classifier",
                "naive_bayes_classifier", "one_vs_rest", "decision_tree_regression",
                "gradient_boosted_tree_regression", "random_forest_regression",
                "generalized_linear_reg", "isotonic_regression", "survival_regression",
                "factorization_machines_regression")
# Distillery's own options, straight onto TrainOptions.
_OWN = {"trials": int, "folds": int, "test_size": float, "seed": int, "calibration": str,
        "person": str, "cutoff": str, "horizon": str, "negative_rate": float, "plots": bool,
        "threshold": float}
# AEP option -> {family: hyperparameter}; "*" applies to every family that lists it.
_HYPER: dict[str, dict[str, str]] = {
    "max_iter": {"logreg": "max_iter", "lightgbm": "n_estimators", "xgboost": "n_estimators",
                 "hist_gbm": "max_iter"},
    "num_trees": {"random_forest": "n_estimators", "lightgbm": "n_estimators",
                  "xgboost": "n_estimators", "hist_gbm": "max_iter"},
    "max_depth": {"lightgbm": "max_depth", "xgboost": "max_depth", "hist_gbm": "max_depth",
                  "random_forest": "max_depth"},
    "step_size": {"lightgbm": "learning_rate", "xgboost": "learning_rate",
                  "hist_gbm": "learning_rate"},
    "learning_rate": {"lightgbm": "learning_rate", "xgboost": "learning_rate",
                      "hist_gbm": "learning_rate"},
    "subsampling_rate": {"lightgbm": "subsample", "xgboost": "subsample",
                         "random_forest": "max_samples"},
    "min_instances_per_node": {"lightgbm": "min_child_samples", "xgboost": "min_child_weight",
                               "hist_gbm": "min_samples_leaf",
                               "random_forest": "min_samples_leaf"},
    "max_bins": {"lightgbm": "max_bin", "hist_gbm": "max_bins"},
    "elastic_net_param": {"logreg": "l1_ratio"},
    "tol": {"logreg": "tol"},
    "fit_intercept": {"logreg": "fit_intercept"},
    "feature_subset_strategy": {"random_forest": "max_features",
                                "lightgbm": "colsample_bytree",
                                "xgboost": "colsample_bytree"},
}


def parse_options(text: str, model: str) -> dict[str, Any]:
    """`KEY=value, ...` into a dict (keys lower-case, quotes removed, numbers read)."""
    out: dict[str, Any] = {}
    pos, text = 0, text.strip()
    while pos < len(text):
        m = _OPTION.match(text, pos)
        if m is None:
            raise ModelOptionError(f"model {model!r}: cannot read OPTIONS text "
                                   f"{text[pos:pos + 40]!r}; write KEY=value, ...")
        out[m.group(1).lower()] = _value(m.group(2).strip())
        pos = m.end()
    return out


def _value(text: str) -> Any:
    if text[:1] in ("'", '"'):
        return text[1:-1].replace("''", "'") if text[0] == "'" else text[1:-1]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def train_options(options: dict[str, Any], model: str, rows: int) -> dict[str, Any]:
    """Training options for `train` from a statement's OPTIONS.

    Args:
        options: Parsed OPTIONS.
        model: The model's name (for messages).
        rows: Rows of the training query (Spark's REG_PARAM is per row).
    """
    opts = dict(options)
    family = _family(opts.pop("model_type", None) or opts.pop("type", None) or "lightgbm",
                     model)
    out: dict[str, Any] = {"model": family, "trials": 0, "name": model}
    label = opts.pop("label", None)
    if label is not None:
        out["label"] = label[0] if isinstance(label, list) else str(label)
    params: dict[str, Any] = {}
    if "reg_param" in opts:
        params.update(_reg_param(opts.pop("reg_param"), family, model, rows))
    for key, value in opts.items():
        if key in _OWN:
            out[key] = _OWN[key](value) if not isinstance(value, bool) else value
        elif key in _HYPER:
            params.update(_hyper(key, value, family, model))
        else:
            known = sorted({"model_type", "type", "label", "reg_param", *_HYPER, *_OWN})
            raise ModelOptionError(f"model {model!r}: option {key.upper()!r} is unknown "
                                   f"(known: {', '.join(k.upper() for k in known)})")
    if params:
        out["params"] = params
    return out


def _family(value: Any, model: str) -> str:
    name = str(value).strip().lower()
    if name in _UNSUPPORTED:
        raise ModelOptionError(
            f"model {model!r}: MODEL_TYPE {value!r} is not supported; SQL models here are "
            "binary classifiers: logistic_reg, gradient_boosted_tree_classifier, "
            "random_forest_classifier, or lightgbm, logreg, hist_gbm, random_forest, xgboost")
    return estimators.family(name).name


def _hyper(key: str, value: Any, family: str, model: str) -> dict[str, Any]:
    target = _HYPER[key].get(family)
    if target is None:
        raise ModelOptionError(f"model {model!r}: option {key.upper()} does not apply to "
                               f"model type {family}")
    if key == "max_depth" and family == "lightgbm":
        # Spark's trees are bounded by depth; LightGBM's by leaves, so bound both.
        return {"max_depth": int(value), "num_leaves": min(2 ** int(value), 131072)}
    if key == "feature_subset_strategy":
        return {target: _subset(value, family, model)}
    return {target: value}


def _subset(value: Any, family: str, model: str) -> Any:
    named = {"all": 1.0, "onethird": 1 / 3, "sqrt": "sqrt", "log2": "log2", "auto": "sqrt"}
    if isinstance(value, int | float):
        return float(value)
    chosen = named.get(str(value).lower())
    if chosen is None or (family != "random_forest" and isinstance(chosen, str)):
        raise ModelOptionError(f"model {model!r}: FEATURE_SUBSET_STRATEGY {value!r} is not "
                               f"usable with {family}")
    return chosen


def _reg_param(value: Any, family: str, model: str, rows: int) -> dict[str, Any]:
    if family != "logreg":
        raise ModelOptionError(f"model {model!r}: REG_PARAM applies to logistic_reg only")
    strength = float(value)
    if strength < 0:
        raise ModelOptionError(f"model {model!r}: REG_PARAM must be at least 0, got {value}")
    # Spark penalises the mean loss, scikit-learn the summed loss scaled by C.
    return {"C": 1e12 if strength == 0 else 1.0 / (strength * max(rows, 1))}


def check_label_leak(query: str, label: str) -> None:
    """Refuse a query that selects the label's expression again under another name.

    Raises:
        LeakageError: names the column that repeats the label's expression.
    """
    try:
        tree = sqlglot.parse_one(query, read="spark")
    except sqlglot.errors.ParseError:
        return  # The Query Service reports syntax errors when it runs the query.
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    if select is None:
        return
    shapes = {}
    for projection in select.expressions:
        name = projection.alias_or_name
        body = projection.this if isinstance(projection, exp.Alias) else projection
        shapes[name] = body.sql(dialect="spark", normalize=True, identify=False).lower()
    target = shapes.get(label)
    if target is None:
        return
    for name, shape in shapes.items():
        if name != label and shape == target:
            raise LeakageError(f"feature column {name!r} is the same expression as the label "
                               f"{label!r} ({target}): the model would learn the answer; "
                               "remove it from the query")
