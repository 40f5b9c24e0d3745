"""`CalibratedModel`: what a training produces and scoring uses.

It chains the fitted pipeline (input coercion, preparation, estimator), the calibrator, and the
correction for sampled negatives, so `probability(frame)` is a population probability. It is a
plain picklable object: MLflow stores it inside the pyfunc model, and scoring code may also use
it directly.

Scoring a LightGBM model whose preparation only passes numbers through takes a shortcut with
the same result: the features become one float64 matrix (`prepare.to_matrix`, the values the
pipeline's first step gives them) fed to the booster with the threads asked for. Through the
pipeline, a pandas frame is built for every batch and the estimator predicts on the one thread
it was trained with; on a million people that was about 90% of scoring. Scoring also asks for
the booster compiled to native code (`compile`, `ml.native`), which gives the same numbers
about four times faster; the compiled library is never pickled with the model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from distillery.ml.calibrate import correct_for_sampling
from distillery.ml.columns import BOOLEAN, NUMERIC
from distillery.ml.native import NativeTrees, compile_booster
from distillery.ml.prepare import row_blocks, to_matrix


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
        self.native: NativeTrees | None = None

    def __getstate__(self) -> dict[str, Any]:
        # A compiled library belongs to one machine and one process: never pickled.
        return {**self.__dict__, "native": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"native": None, **state})

    def compile(self, folder: Path) -> bool:
        """Predict from the booster compiled to native code, built once under `folder`
        (`ml.native`). False, and predictions stay with the booster, when the model has no
        plain LightGBM booster or it cannot be compiled here; the numbers are the same."""
        booster = self._booster()
        self.native = compile_booster(booster, folder) if booster is not None else None
        return self.native is not None

    @property
    def predictor(self) -> str:
        """What computes the raw score: `native` (compiled trees), `lightgbm` (the booster) or
        `pipeline` (the scikit-learn pipeline)."""
        if self.native is not None:
            return "native"
        return "lightgbm" if self._booster() is not None else "pipeline"

    def raw_score(self, data: Any, *, threads: int | None = None) -> np.ndarray:
        """The estimator's own P(positive), before calibration.

        Args:
            data: Arrow, pandas or polars frame holding at least the feature columns.
            threads: Threads the booster may use (LightGBM on numeric features); default: the
                estimator's own setting.
        """
        if self.native is not None:
            return self.native.predict(row_blocks(data, self.kinds),
                                       threads or self._threads())
        booster = self._booster()
        if booster is not None:
            return np.asarray(booster.predict(to_matrix(data, self.kinds),
                                              num_threads=threads or self._threads()),
                              dtype=np.float64)
        return np.asarray(self.pipeline.predict_proba(data)[:, 1], dtype=np.float64)

    def probability(self, data: Any, *, threads: int | None = None) -> np.ndarray:
        """Calibrated population probability per row of `data` (Arrow, pandas or polars frame
        holding at least the feature columns); `threads` as in `raw_score`."""
        q = self.calibrator.predict(self.raw_score(data, threads=threads))
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

    @property
    def parallel_predict(self) -> bool:
        """Whether `probability(data, threads=n)` is the way to use n threads (a LightGBM
        booster on numeric features, whose matrix takes memory per batch). Compiled trees read
        small blocks of rows, so n batches side by side on one thread each are faster; other
        models predict on the estimator's own setting."""
        return self.native is None and self._booster() is not None

    def _booster(self) -> Any:
        """The LightGBM booster when the pipeline between the input and it only selects and
        coerces numbers (so `to_matrix` is exactly what it sees), else None."""
        estimator = self.estimator
        booster = getattr(estimator, "booster_", None) if self.family == "lightgbm" else None
        if booster is None or getattr(estimator, "n_classes_", 2) != 2:
            return None
        if any(kind not in (NUMERIC, BOOLEAN) for kind in self.kinds.values()):
            return None
        if len(self.pipeline.steps) != 3:
            return None
        prepare = self.pipeline.steps[1][1]
        # The parameters, not the fitted `transformers_`, where scikit-learn has replaced
        # "passthrough" by an identity FunctionTransformer.
        transformers = getattr(prepare, "transformers", None)
        if not transformers or getattr(prepare, "remainder", None) != "drop" or \
                any(not isinstance(t, str) or t != "passthrough" for _, t, _ in transformers):
            return None
        names = list(prepare.get_feature_names_out())
        return booster if names == list(self.kinds) else None

    def _threads(self) -> int:
        """The estimator's thread setting as LightGBM reads it (n_jobs <= 0: all cores)."""
        jobs = getattr(self.estimator, "n_jobs", None)
        if isinstance(jobs, int) and jobs > 0:
            return jobs
        return os.cpu_count() or 1
