"""The model card: everything needed to trust, reproduce and use a registered model.

It is stored with every version (an artifact of the pyfunc model and of the run, plus a summary
in the version's tags and description). Scoring reads from it the feature definition (to call
`compute_features`) and the feature columns in input order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy as np

from distillery.ml.columns import CATEGORICAL

CARD_VERSION = 1
_LIBRARIES = ("distillery", "scikit-learn", "lightgbm", "xgboost", "optuna", "mlflow", "numpy",
              "pandas", "pyarrow", "joblib")


def library_versions() -> dict[str, str]:
    """Versions of the libraries a model depends on (those installed)."""
    out = {}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def requirements(family: str) -> list[str]:
    """pip requirements of the pyfunc model (pinned to what trained it)."""
    versions = library_versions()
    needed = ["scikit-learn", "numpy", "pandas", "pyarrow", "joblib", "mlflow"]
    needed += [family] if family in ("lightgbm", "xgboost") else []
    pins = [f"{n}=={versions[n]}" for n in needed if n in versions and n != "xgboost"]
    if family == "xgboost" and "xgboost" in versions:
        pins.append(f"xgboost-cpu=={versions['xgboost']}")
    return ["distillery", *pins]


def input_types(kinds: dict[str, str]) -> dict[str, str]:
    """MLflow column types of the pyfunc input: numbers (and booleans, as 0/1) are doubles,
    as MLflow advises for integers that may be missing; categories are strings."""
    return {c: "string" if k == CATEGORICAL else "double" for c, k in kinds.items()}


def signature(kinds: dict[str, str]) -> Any:
    """The pyfunc signature: optional typed feature columns in, one probability out."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec(t, c, required=False) for c, t in input_types(kinds).items()])
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double", "probability")]))


def build(**parts: Any) -> dict[str, Any]:
    """Assemble a card from the parts of a training (see `training._card_parts`)."""
    card = {"card_version": CARD_VERSION, "created_at": datetime.now(UTC).isoformat(),
            "libraries": library_versions(), **parts}
    return _jsonable(card)


def describe(card: dict[str, Any]) -> str:
    """A short Markdown description for the registry."""
    m, cv, src = card["metrics"], card["cross_validation"], card["training_set"]
    snapshot = f" (snapshot {src['snapshot']})" if src.get("snapshot") is not None else ""
    sampled = card["sampling"]["negative_rate"]
    lines = [
        f"**{card['model']['family']}** trained on `{src['name']}`{snapshot}, label "
        f"`{card['label']}`, {len(card['features'])} features.",
        f"Test ROC AUC {m['roc_auc']:.4f}; {cv['folds']}-fold person CV "
        f"{cv['roc_auc_mean']:.4f} ± {cv['roc_auc_std']:.4f}; ECE {m['ece']:.4f}; "
        f"calibration {card['calibration']['method']}; negatives kept: "
        f"{'all' if sampled is None else f'{sampled:.0%}'}.",
    ]
    return "\n\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "total_seconds"):
        return value.total_seconds()
    return value
