"""Training options, validated in one place for Python, the CLI and SQL.

A wrong option fails before any data is read, with a message naming the option.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from distillery.ml import definition
from distillery.ml.errors import ModelOptionError

DEFAULT_NAME = "propensity"
CHAMPION = "champion"
_MAX_PATIENCE = 1000
_MODEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")


class TrainOptions(BaseModel):
    """Everything `train` accepts besides the platform and the training set.

    Attributes:
        name: Registered model name (default "propensity").
        label: Label column (default: from the feature definition, else `label`, ...).
        model: Family: lightgbm (default), logreg, hist_gbm, random_forest, xgboost; AEP's
            spellings (logistic_reg, gradient_boosted_tree_classifier, ...) are accepted.
        trials: Hyperparameter search trials (0: the family's defaults only).
        features: Feature columns (default: every usable column).
        exclude: Columns never used as features.
        kinds: Declared feature kinds, e.g. {"plan": "categorical"}.
        person: Person column (rows of a person stay on one side of every split).
        cutoff: Cutoff-time column (several cutoffs: the latest is the test).
        horizon: Label horizon (for the ground-truth comparison), e.g. "14d".
        negative_rate: Share of negatives kept when the training set was built (default: from
            the feature definition; 1 means none were dropped).
        max_rows: Train on about this many rows at most (default: every row). A larger set
            keeps every positive and a seeded share of its negatives, and the model is
            corrected for that share exactly as for a set built with negative sampling (held-out
            metrics weight the kept negatives up, probabilities are mapped back).
        folds: Person folds for cross-validation (also the validation fold of the search).
        test_size: Share of persons held out for the final evaluation.
        seed: Seed of splits, search and estimators.
        calibration: auto (isotonic or Platt, chosen out of fold), isotonic, platt or none.
        threshold: Decision threshold for the confusion matrix: a probability, or "f1" (the
            best F1 on development rows).
        params: Hyperparameters fixed rather than searched.
        baseline: Also cross-validate logistic regression on the same folds, for comparison.
        promote: Point the `champion` alias at the new version.
        jobs: Fits run at the same time (default: every core).
        timeout: Stop the search after this many seconds.
        patience: Early stopping of boosting families: a trial stops after this many rounds
            without a better validation ROC AUC, and keeps its best round (default 50).
        snapshot: Dataset snapshot to train on (default: current).
        storage_options: fsspec options for training sets in cloud storage.
        plots: Draw and log the plots.
        shap: Draw a SHAP summary when shap is installed.
        ground_truth: Compare with the synthetic ground truth when the sandbox has it.
        sql_options: The OPTIONS of the SQL statement that trains the model (kept in the
            card, so UPDATE MODEL can start from them).
        sql_transform: The TRANSFORM clause of that statement, kept in the card.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = DEFAULT_NAME
    label: str | None = None
    model: str = "lightgbm"
    trials: int = Field(default=50, ge=0, le=100_000)
    features: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)
    kinds: dict[str, Literal["numeric", "categorical", "boolean"]] = Field(default_factory=dict)
    person: str | None = None
    cutoff: str | None = None
    horizon: timedelta | None = None
    negative_rate: float | None = Field(default=None, gt=0, le=1)
    max_rows: int | None = Field(default=None, ge=100)
    folds: int = Field(default=5, ge=2, le=50)
    test_size: float = Field(default=0.2, gt=0, lt=1)
    seed: int = Field(default=0, ge=0)
    calibration: Literal["auto", "isotonic", "platt", "none"] = "auto"
    threshold: float | Literal["f1"] = "f1"
    params: dict[str, Any] = Field(default_factory=dict)
    baseline: bool = True
    promote: bool = True
    jobs: int | None = Field(default=None, ge=1, le=256)
    timeout: float | None = Field(default=None, gt=0)
    patience: int = Field(default=50, ge=1, le=_MAX_PATIENCE)
    snapshot: int | None = Field(default=None, ge=0)
    storage_options: dict[str, Any] = Field(default_factory=dict)
    plots: bool = True
    shap: bool = True
    ground_truth: bool = True
    sql_options: dict[str, Any] | None = None
    sql_transform: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _MODEL_NAME.match(value):
            raise ValueError("a model name is letters, digits, '_', '.', '-', starting with a "
                             "letter or '_'")
        return value

    @field_validator("horizon", mode="before")
    @classmethod
    def _horizon(cls, value: Any) -> Any:
        if value is None or isinstance(value, timedelta):
            return value
        parsed = definition.parse_duration(value)
        if parsed is None:
            raise ValueError(f"{value!r} is not a duration such as '14d', '336h' or 14")
        return parsed

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, value: Any) -> Any:
        if isinstance(value, float) and not 0 <= value <= 1:
            raise ValueError("a threshold is a probability between 0 and 1, or 'f1'")
        return value


def parse(**options: Any) -> TrainOptions:
    """Validate options; a bad one raises ModelOptionError naming it."""
    try:
        return TrainOptions(**options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "options"
        if first["type"] == "extra_forbidden":
            known = ", ".join(TrainOptions.model_fields)
            raise ModelOptionError(f"training option {where!r} is unknown (known: {known})"
                                   ) from None
        raise ModelOptionError(f"training option {where!r}: {first['msg']} (got "
                               f"{first.get('input')!r})") from None
