"""Keep MLflow offline: no telemetry, no Databricks SDK, no progress bars on the terminal.

MLflow reads some of these when it is imported, so they are set (unless the user set them)
when `distillery.ml` is imported, before anything imports MLflow.
"""

from __future__ import annotations

import os

SETTINGS = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_ENABLE_DB_SDK": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def ensure() -> None:
    """Set the variables that keep MLflow offline and quiet (user values win)."""
    for key, value in SETTINGS.items():
        os.environ.setdefault(key, value)


ensure()
