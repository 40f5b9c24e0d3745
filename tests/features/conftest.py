"""Fixtures of the features tests: hand-made events with known answers, and a small synthetic
workspace made by the real generator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from distillery import Platform
from distillery.lake import xdm

T = datetime(2025, 2, 1, tzinfo=UTC)  # the cutoff most tests use
AS_OF = datetime(2025, 3, 1, tzinfo=UTC)  # synthetic events fall in Dec 2024 - Feb 2025


def person(n: int) -> str:
    """A valid ECID (38 digits) for person number n."""
    return f"{n:038d}"


def ev(who: int, event_type: str, at: datetime, value: float | None = None,
       event_id: str | None = None) -> dict[str, Any]:
    """One ExperienceEvent row as a dict (`value` fills commerce.order.priceTotal)."""
    row: dict[str, Any] = {"timestamp": at.isoformat(), "eventType": event_type,
                           "_tenant": {"userid": person(who)}}
    if value is not None:
        row["commerce"] = {"order": {"priceTotal": value}}
    if event_id is not None:
        row["_id"] = event_id
    return row


Ingest = Callable[..., Any]


@pytest.fixture
def ingest(platform: Platform) -> Ingest:
    """Ingest event dicts into an ExperienceEvent dataset (created on first use), one batch
    per call."""

    def run(rows: list[dict[str, Any]], name: str = "events") -> Any:
        platform.create_dataset(name, xdm.experience_event_schema(), profile_enabled=True,
                                exist_ok=True)
        return platform.ingest(name, rows)

    return run


def before(delta: timedelta) -> datetime:
    """The cutoff T minus `delta`."""
    return T - delta


@pytest.fixture(scope="module")
def synth_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with 3,000 synthetic users (3 batches), made once per test module."""
    from distillery.synth import generate

    home = tmp_path_factory.mktemp("synth") / "home"
    with Platform.open(home) as p:
        generate(p, 3_000, 11, as_of=AS_OF, batch_users=1_000, truth=False)
    return home


@pytest.fixture
def synth(synth_home: Path) -> Platform:
    """The synthetic workspace, opened for one test (tests may add datasets to it)."""
    p = Platform.open(synth_home)
    yield p
    p.close()
