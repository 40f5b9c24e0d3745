"""The engine tests share the Spark context of the parity tests (one per run)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.spark.support import spark_context


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    yield from spark_context()
