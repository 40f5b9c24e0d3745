"""The MLflow pyfunc form of a Distillery model: input a frame of features, output the
calibrated probability of converting.

The fitted `CalibratedModel` and the model card travel as the pyfunc's artifacts; this wrapper
loads them. Importing this module imports MLflow, so only the registry imports it.
"""

from __future__ import annotations

import json
from typing import Any

import joblib
import mlflow.pyfunc
import numpy as np
import pandas as pd

MODEL_ARTIFACT = "model"
CARD_ARTIFACT = "card"


class PropensityModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """pyfunc wrapper: `predict(frame)` returns one calibrated probability per row."""

    def load_context(self, context: Any) -> None:
        """Load the fitted model and its card from the pyfunc's artifacts."""
        self.model = joblib.load(context.artifacts[MODEL_ARTIFACT])
        with open(context.artifacts[CARD_ARTIFACT], encoding="utf-8") as f:
            self.card = json.load(f)

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> np.ndarray:
        """Calibrated P(positive) for each row of `model_input`."""
        return self.model.probability(model_input)
