"""The model that scores: a registered version, its feature definition and feature order.

`load_model(platform, "propensity@champion")` reads the registry (distillery.ml); any object
with a calibrated `probability(frame)` can also score through `ScoringModel.of`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distillery.scoring.errors import ScoringError

_REF = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)"
                  r"(?:(?P<sep>[@/:])(?P<which>[A-Za-z0-9_.-]+))?$")
DEFAULT_MODEL = "propensity@champion"


@dataclass(frozen=True)
class ModelRef:
    """A registered model and which version: an alias (`@champion`) or a number (`/3`)."""

    name: str
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        """`name`, `name@alias`, `name/3` or `name:3`."""
        m = _REF.match(text.strip())
        if not m:
            raise ScoringError(f"model {text!r} must read NAME, NAME@ALIAS or NAME/VERSION, "
                               "e.g. propensity@champion")
        return cls(m["name"], m["which"])

    def __str__(self) -> str:
        if self.version is None:
            return self.name
        return f"{self.name}/{self.version}" if self.version.isdigit() else \
            f"{self.name}@{self.version}"


@dataclass
class ScoringModel:
    """What scoring needs of a model.

    Attributes:
        name: Registered name.
        version: Version (text).
        features: Feature columns in the model's input order.
        probability: Calibrated P(convert) per row of an Arrow table holding the features.
        definition: The feature definition it was trained with (for compute_features).
        person: The column naming the person (the definition's identity column).
        card: The model card.
    """

    name: str
    version: str
    features: list[str]
    probability: Callable[[Any], np.ndarray]
    definition: dict[str, Any] | None = None
    person: str = "userid"
    card: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, model: Any, *, name: str, version: str | int,
           features: list[str] | None = None, definition: dict[str, Any] | None = None,
           card: dict[str, Any] | None = None) -> ScoringModel:
        """Wrap a fitted model with `probability(frame)` (or `predict_proba`) and, unless
        given, a `features` attribute."""
        cols = list(features if features is not None else getattr(model, "features", []))
        if not cols:
            raise ScoringError(f"model {name!r} names no feature columns")
        if hasattr(model, "probability"):
            predict = model.probability
        elif hasattr(model, "predict_proba"):
            def predict(frame: Any) -> np.ndarray:
                return np.asarray(model.predict_proba(frame)[:, 1], dtype=np.float64)
        else:
            raise ScoringError(f"model {name!r} has neither probability() nor predict_proba()")
        return cls(name, str(version), cols, predict, definition, _person(definition),
                   dict(card or {}))


def load_model(platform: Any, ref: str | ModelRef = DEFAULT_MODEL) -> ScoringModel:
    """A registered model version, with its card's feature definition and feature order.

    Raises:
        ModelNotFoundError: the model, version or alias does not exist.
        ScoringError: the version's card lacks its feature definition.
    """
    from distillery import ml

    which = ref if isinstance(ref, ModelRef) else ModelRef.parse(ref)
    loaded = ml.load_model(platform, which.name, which.version)
    definition = loaded.card.get("feature_definition")
    if not isinstance(definition, dict):
        raise ScoringError(f"model {loaded.name!r} version {loaded.version} was not trained on "
                           "a training set with a feature definition, so scoring cannot "
                           "compute its features; train it on a `distillery features build` "
                           "set")
    return ScoringModel(loaded.name, str(loaded.version), list(loaded.features), loaded.predict,
                        definition, _person(definition), dict(loaded.card))


def _person(definition: dict[str, Any] | None) -> str:
    """The person column: the definition's identity column, `userid` by default."""
    if definition:
        for key in ("identity_column", "entity_column", "person_column"):
            if isinstance(definition.get(key), str):
                return str(definition[key])
    return "userid"
