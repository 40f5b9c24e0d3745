"""Train, tune, calibrate, evaluate and register propensity models.

    from distillery.ml import train, load_champion

    result = train(platform, "training_set", model="lightgbm", trials=50)
    champion = load_champion(platform)              # models:/propensity@champion
    champion.card["feature_definition"], champion.features
    champion.predict(features_frame)                # calibrated probabilities

The registry is MLflow (SQLite) under the sandbox; `distillery.ml.sql` adds the SQL model
statements (CREATE MODEL, model_evaluate, model_predict, SHOW MODELS, DROP MODEL) on top of the
same code. Heavy libraries are imported by the functions that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from distillery.ml import offline  # noqa: F401 (keeps MLflow offline from the start)
from distillery.ml.errors import (
    LabelError,
    LeakageError,
    MissingExtraError,
    ModelNotFoundError,
    ModelOptionError,
    TrainingError,
)
from distillery.ml.options import CHAMPION, DEFAULT_NAME

if TYPE_CHECKING:
    from distillery.ml.registry import LoadedModel
    from distillery.ml.training import TrainResult


def train(platform: Any, training_set: Any, **options: Any) -> TrainResult:
    """Train and register a model; see `distillery.ml.training.train`."""
    from distillery.ml.training import train as run

    return run(platform, training_set, **options)


def load_model(platform: Any, name: str = DEFAULT_NAME, version: int | str | None = None
               ) -> LoadedModel:
    """A registered version (number or alias; default: the champion, else the latest)."""
    from distillery.ml.registry import Registry

    return Registry.of(platform).load(name, version)


def compile_model(platform: Any, model: Any) -> bool:
    """Have a loaded model predict from its boosted trees compiled to native code
    (`ml.native`), built once under the sandbox's registry. False when the model has no such
    trees or they cannot be compiled here; it then predicts as before, with the same numbers."""
    from distillery.ml.registry import Registry

    compile_trees = getattr(model, "compile", None)
    if compile_trees is None:
        return False
    return bool(compile_trees(Registry.of(platform).folder / "native"))


def load_champion(platform: Any, name: str = DEFAULT_NAME) -> LoadedModel:
    """The version the `champion` alias points at (`models:/{name}@champion`), with its model
    card: `card["feature_definition"]` for `compute_features`, `features` for column order."""
    return load_model(platform, name, CHAMPION)


def models(platform: Any) -> list[dict[str, Any]]:
    """Every version of every registered model of the sandbox."""
    from distillery.ml.registry import Registry

    return Registry.of(platform).models()


__all__ = [
    "CHAMPION",
    "DEFAULT_NAME",
    "LabelError",
    "LeakageError",
    "MissingExtraError",
    "ModelNotFoundError",
    "ModelOptionError",
    "TrainingError",
    "compile_model",
    "load_champion",
    "load_model",
    "models",
    "train",
]
