"""`CalibratedModel`: what a training produces and scoring uses.

It chains the fitted pipeline (input coercion, preparation, estimator), the calibrator, and the
correction for sampled negatives, so `probability(frame)` is a population probability. It is a
plain picklable object: MLflow stores it inside the pyfunc model, and scoring code may also use
it directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from distillery.ml.calibrate import correct_for_sampling


class CalibratedModel:
    """A fitted model whose output is a calibrated probability of the positive class.

    Attributes:
        pipeline: The fitted scikit-learn pipeline (coerce, prepare, estimator).
        calibrator: Maps the pipeline's raw score to a calibrated probability.
        negative_rate: Share of negatives kept in the training set (None: all).
        features: Input feature columns, in order.
        kinds: Kind of each feature (numeric, categorical, boolean).
        family: Model family name (lightgbm, logreg, ...).
    """

    def __init__(self, pipeline: Any, calibrator: Any, negative_rate: float | None,
                 features: list[str], kinds: dict[str, str], family: str) -> None:
        self.pipeline = pipeline
        self.calibrator = calibrator
        self.negative_rate = negative_rate
        self.features = list(features)
        self.kinds = dict(kinds)
        self.family = family

    def raw_score(self, data: Any) -> np.ndarray:
        """The estimator's own P(positive), before calibration."""
        return np.asarray(self.pipeline.predict_proba(data)[:, 1], dtype=np.float64)

    def probability(self, data: Any) -> np.ndarray:
        """Calibrated population probability per row of `data` (Arrow, pandas or polars frame
        holding at least the feature columns)."""
        q = self.calibrator.predict(self.raw_score(data))
        return correct_for_sampling(q, self.negative_rate)

    def predict_proba(self, data: Any) -> np.ndarray:
        """scikit-learn style: columns P(negative), P(positive)."""
        p = self.probability(data)
        return np.column_stack([1.0 - p, p])

    def predict(self, data: Any, threshold: float = 0.5) -> np.ndarray:
        """0/1 decisions at `threshold`."""
        return (self.probability(data) >= threshold).astype(np.int8)

    @property
    def estimator(self) -> Any:
        """The fitted estimator (last pipeline step)."""
        return self.pipeline.steps[-1][1]
