"""A small synthetic world for scoring tests, built once per test process and copied per test:
generated users and events (the synth package), a point-in-time training set (features), and a
LightGBM model fitted on it. The model is wrapped as a ScoringModel with the training set's
feature definition, so scoring computes its features with the same code as training did."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from distillery import Platform
from distillery.scoring import ScoringModel

AS_OF = datetime(2025, 3, 1, tzinfo=UTC)
USERS = 3000


class Booster:
    """A fitted LightGBM classifier that scores Arrow tables of named features."""

    def __init__(self, features: list[str], table: pa.Table) -> None:
        import lightgbm as lgb

        self.features = features
        y = table.column("label").to_numpy(zero_copy_only=False).astype(int)
        self.clf = lgb.LGBMClassifier(n_estimators=30, num_leaves=15, verbose=-1, n_jobs=1,
                                      random_state=0).fit(self.matrix(table), y)

    def matrix(self, frame: Any) -> np.ndarray:
        cols = [np.asarray(frame.column(n).to_numpy(zero_copy_only=False), dtype=float)
                for n in self.features]
        return np.column_stack(cols)

    def probability(self, frame: Any) -> np.ndarray:
        return self.clf.predict_proba(self.matrix(frame))[:, 1]


@dataclass
class World:
    """The template home and the model trained in it (not registered: see test_cli for the
    registry)."""

    home: Path
    booster: Booster
    definition: dict[str, Any]

    def model(self, version: str = "1") -> ScoringModel:
        return ScoringModel.of(self.booster, name="propensity", version=version,
                               definition=self.definition)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    from distillery.features import build_training_set
    from distillery.synth import generate

    home = tmp_path_factory.mktemp("scoring-world") / "home"
    with Platform.open(home) as p:
        generate(p, USERS, seed=11, as_of=AS_OF, batch_users=USERS)
        built = build_training_set(p, "experience_events", "training",
                                   [AS_OF - timedelta(days=56), AS_OF - timedelta(days=42)],
                                   horizon="14d")
        table = p.query("SELECT * FROM training").arrow()
        booster = Booster(built.definition.feature_names(), table)
        return World(home, booster, built.definition.model_dump(mode="json"))


@contextmanager
def copy_of(world: World, home: Path) -> Iterator[Platform]:
    """A copy of the world's home at `home`, opened (and closed after)."""
    shutil.copytree(world.home, home)
    p = Platform.open(home)
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def world_platform(world: World, tmp_path: Path) -> Iterator[Platform]:
    """A fresh copy of the world's home, opened."""
    with copy_of(world, tmp_path / "home") as p:
        yield p
