"""Training sets with a known signal, and platforms whose MLflow store is ready to use.

Creating an MLflow SQLite store runs its schema migrations (seconds); the store is created once
per test process and copied into each test's home, which is the same file MLflow would make.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from distillery import Platform


def make_set(rows: int = 3000, persons: int | None = None, seed: int = 0,
             cutoffs: int = 1) -> pa.Table:
    """Rows whose label follows a logistic model of the features, so a model can learn it.

    Columns: userid (several rows per person), cutoff, visits (int with nulls), spend (float
    with nulls), plan (text with nulls), opted_in (boolean), label (0/1).
    """
    rng = np.random.default_rng(seed)
    persons = persons or rows // 2
    person = rng.integers(0, persons, rows)
    visits = rng.poisson(3, rows).astype(float)
    spend = rng.gamma(2.0, 20.0, rows)
    plan = rng.choice(["free", "pro", "team"], rows, p=[0.6, 0.3, 0.1])
    opted = rng.random(rows) < 0.4
    logit = (-5.0 + 0.7 * visits + 0.03 * spend + np.where(plan == "team", 1.5, 0.0)
             + 0.8 * opted)
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    visits_col = pa.array(visits.astype(np.int64), mask=rng.random(rows) < 0.1)
    spend_col = pa.array(spend, mask=rng.random(rows) < 0.1)
    plan_col = pa.array(plan.tolist(), mask=rng.random(rows) < 0.05)
    starts = np.datetime64("2025-01-01T00:00:00", "us")
    cutoff = starts + rng.integers(0, cutoffs, rows) * np.timedelta64(7, "D")
    return pa.table({
        "userid": pa.array([f"user-{p:05d}" for p in person]),
        "cutoff": pa.array(cutoff, pa.timestamp("us", tz="UTC")),
        "visits": visits_col, "spend": spend_col, "plan": plan_col,
        "opted_in": pa.array(opted), "label": pa.array(label),
    })


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated MLflow store (made once per test process)."""
    from distillery.ml.registry import Registry

    root = tmp_path_factory.mktemp("mlflow-template")
    registry = Registry(root)
    with registry.client() as client:
        client.search_experiments()  # creates and migrates the SQLite file
    return root / "models" / "mlflow.db"


@pytest.fixture
def ml_platform(home: Path, mlflow_store: Path) -> Platform:
    """A platform whose registry starts from the prepared (empty) MLflow store."""
    p = Platform.open(home)
    target = p.root / "models" / "mlflow.db"
    shutil.copy(mlflow_store, target)
    yield p
    p.close()


@pytest.fixture
def training_set(ml_platform: Platform) -> str:
    """A training set dataset `ts` in the lake (3,000 rows, 1,500 persons)."""
    ml_platform.lake.write("ts", make_set())
    return "ts"


FAST = {"trials": 3, "plots": False, "folds": 3}
