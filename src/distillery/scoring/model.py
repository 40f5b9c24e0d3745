"""The model that scores: a registered version, its feature definition and feature order.

`load_model(platform, "propensity@champion")` reads the registry (distillery.ml); any object
with a calibrated `probability(frame)` can also score through `ScoringModel.of`.

The registered version is MLflow's pyfunc model; scoring calls the fitted model inside it
(`unwrap_python_model().model`, the object the pyfunc's `predict` calls) through a
`Predictor`, which can ask it for threads: LightGBM predicts one batch on all the cores, where
several single-threaded batches side by side would hold several batches in memory. Its
boosted trees are compiled to native code first when the machine has a C compiler
(`ml.compile_model`): the same numbers, about four times faster.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distillery.scoring.errors import ScoringError
from distillery.scoring.schema import DEFAULT_NAMESPACE

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
        namespace: The identity namespace of `person` (the definition's; ECID when the model
            has no definition). None: the definition's identity field is no identity.
    """

    name: str
    version: str
    features: list[str]
    probability: Callable[[Any], np.ndarray]
    definition: dict[str, Any] | None = None
    person: str = "userid"
    card: dict[str, Any] = field(default_factory=dict)
    namespace: str | None = DEFAULT_NAMESPACE

    @classmethod
    def of(cls, model: Any, *, name: str, version: str | int,
           features: list[str] | None = None, definition: dict[str, Any] | None = None,
           card: dict[str, Any] | None = None) -> ScoringModel:
        """Wrap a fitted model with `probability(frame)` (or `predict_proba`) and, unless
        given, a `features` attribute."""
        cols = list(features if features is not None else getattr(model, "features", []))
        if not cols:
            raise ScoringError(f"model {name!r} names no feature columns")
        predict: Callable[[Any], np.ndarray]
        if Predictor.fits(model):
            predict = Predictor(model)
        elif hasattr(model, "probability"):
            predict = model.probability
        elif hasattr(model, "predict_proba"):
            def predict(frame: Any) -> np.ndarray:
                return np.asarray(model.predict_proba(frame)[:, 1], dtype=np.float64)
        else:
            raise ScoringError(f"model {name!r} has neither probability() nor predict_proba()")
        return cls(name, str(version), cols, predict, definition, _person(definition),
                   dict(card or {}), _namespace(definition))


class Predictor:
    """A fitted model's calibrated `probability(frame)`, on a chosen number of threads.

    Picklable (Spark ships it to its executors, where it runs on one thread)."""

    def __init__(self, fitted: Any, threads: int = 1) -> None:
        self.fitted = fitted
        self.threads = max(1, threads)

    @staticmethod
    def fits(model: Any) -> bool:
        """Whether `model.probability` takes a `threads` argument (a `CalibratedModel`)."""
        method = getattr(model, "probability", None)
        if method is None:
            return False
        try:
            return "threads" in inspect.signature(method).parameters
        except (TypeError, ValueError):
            return False

    @property
    def engine(self) -> str:
        """What predicts: `native`, `lightgbm` or `pipeline` (see CalibratedModel.predictor)."""
        return str(getattr(self.fitted, "predictor", "model"))

    @property
    def parallel(self) -> bool:
        """Whether the model predicts one batch on several threads itself."""
        return bool(getattr(self.fitted, "parallel_predict", False))

    def on(self, threads: int) -> Predictor:
        """The same model on `threads` threads."""
        return Predictor(self.fitted, threads)

    def __call__(self, frame: Any) -> np.ndarray:
        return np.asarray(self.fitted.probability(frame, threads=self.threads),
                          dtype=np.float64)


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
    # `loaded.model` is the pyfunc's own fitted model (what its predict calls).
    predict = loaded.predict
    if Predictor.fits(loaded.model):
        ml.compile_model(platform, loaded.model)
        predict = Predictor(loaded.model)
    return ScoringModel(loaded.name, str(loaded.version), list(loaded.features), predict,
                        definition, _person(definition), dict(loaded.card),
                        _namespace(definition))


def _person(definition: dict[str, Any] | None) -> str:
    """The person column: the definition's identity column, `userid` by default."""
    if definition:
        for key in ("identity_column", "entity_column", "person_column"):
            if isinstance(definition.get(key), str):
                return str(definition[key])
    return "userid"


def _namespace(definition: dict[str, Any] | None) -> str | None:
    """The identity namespace scores carry: the definition's (the events' identity field)."""
    if not definition:
        return DEFAULT_NAMESPACE
    value = definition.get("identity_namespace")
    return str(value) if value else None
