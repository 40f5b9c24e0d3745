"""Shared fixtures: a fresh platform home per test, and small valid event rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from distillery import Platform
from distillery.lake import xdm

ECID_A = "12345678901234567890123456789012345678"
ECID_B = "98765432109876543210987654321098765432"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def platform(home: Path) -> Platform:
    p = Platform.open(home)
    yield p
    p.close()


@pytest.fixture
def events(platform: Platform):
    """An empty, profile-enabled ExperienceEvent dataset named `events`."""
    return platform.create_dataset("events", xdm.experience_event_schema(), profile_enabled=True)


def event_rows(n: int, ecid: str = ECID_A, start: datetime | None = None,
               event_type: str = "web.webpagedetails.pageViews") -> list[dict[str, Any]]:
    """`n` valid ExperienceEvent rows as plain dicts (JSON-like)."""
    t0 = start or datetime(2024, 1, 1, tzinfo=UTC)
    return [
        {
            "_id": f"evt-{ecid[:4]}-{i}",
            "timestamp": (t0 + timedelta(minutes=i)).isoformat(),
            "eventType": event_type,
            "_tenant": {"userid": ecid},
            "identityMap": {"ECID": [{"id": ecid, "authenticatedState": "ambiguous",
                                      "primary": True}]},
            "web": {"webPageDetails": {"pageViews": {"value": 1.0}, "name": f"page {i}"}},
        }
        for i in range(n)
    ]
