"""Shared simulations: generated once per session so the whole suite stays fast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from distillery.synth import SimBatch, Window, simulate

AS_OF = datetime(2025, 3, 1, tzinfo=UTC)
WINDOW = Window.of(AS_OF)


@dataclass(frozen=True)
class Run:
    """All batches of one simulation, with their tables concatenated."""

    users: int
    batches: list[SimBatch]

    def table(self, name: str) -> pa.Table:
        return pa.concat_tables([getattr(b, name) for b in self.batches])


def run(users: int, seed: int = 7, **options: Any) -> Run:
    return Run(users, list(simulate(users, seed, as_of=AS_OF, **options)))


@pytest.fixture(scope="session")
def reference() -> Run:
    """100,000 users of the reference scenario: the published aggregates' population."""
    return run(100_000)


@pytest.fixture(scope="session")
def independent() -> Run:
    """10,000 users of the independent scenario."""
    return run(10_000, scenario="independent")
