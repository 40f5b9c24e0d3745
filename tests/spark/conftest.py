"""Fixtures of the DuckDB/Spark parity tests: one Spark context per run, and a synthetic home
opened twice, once on each engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from distillery import Platform
from tests.spark.support import spark_context

AS_OF = datetime(2025, 3, 1, tzinfo=UTC)  # synthetic events fall in Dec 2024 - Feb 2025
USERS = 2_000
SEED = 23


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    yield from spark_context()


@pytest.fixture(scope="session")
def synth_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with 2,000 synthetic users in two batches (two snapshots)."""
    from distillery.synth import generate

    home = tmp_path_factory.mktemp("parity") / "home"
    with Platform.open(home) as p:
        generate(p, USERS, SEED, as_of=AS_OF, batch_users=USERS // 2, truth=False)
    return home


@pytest.fixture(scope="session")
def engines(spark: Any, synth_home: Path) -> Iterator[dict[str, Platform]]:
    """The synthetic home opened on DuckDB and on Spark (same catalog, same files)."""
    duck = Platform.open(synth_home, engine="duckdb")
    on_spark = Platform.open(synth_home, engine="spark")
    yield {"duckdb": duck, "spark": on_spark}
    on_spark.close()
    duck.close()
