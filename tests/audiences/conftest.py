"""A small scored world: ten profiles with propensities 0.0 ... 0.9 and their events.

Person i: ECID `ecid(i)`, `_tenant.propensity` = i / 10, email `p{i}@example.com`, last name
McArthur when i % 3 == 0 else Smith, loyalty tier gold when i is even. Person 3 refused
marketing (consents.marketing.any.val = 'n'); person 4 refused email only. Person i bought
something (commerce.purchases) 5 * i days before NOW; person 0 also viewed three pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from distillery import Platform
from distillery.lake import xdm
from distillery.lake.schema import Field, Schema

NOW = datetime(2024, 3, 31, tzinfo=UTC)
PEOPLE = 10


def ecid(i: int) -> str:
    """The 38-digit ECID of person i."""
    return str(10**37 + i)


def scored_schema() -> Schema:
    """Individual Profile with the tenant's propensity score."""
    base = xdm.profile_schema()
    score = xdm.tenant_group("tenant", Field("propensity", "double"), name="propensity")
    return Schema(title="Scored profiles", cls="profile",
                  field_groups=(*base.field_groups, score), identities=base.identities)


def profile_row(i: int, propensity: float | None = None, **overrides: Any) -> dict[str, Any]:
    """Person i's profile row."""
    row = {
        "_tenant": {"userid": ecid(i), "propensity": i / 10 if propensity is None
                    else propensity},
        "person": {"name": {"firstName": f"First{i}",
                            "lastName": "McArthur" if i % 3 == 0 else "Smith"}},
        "personalEmail": {"address": f"p{i}@example.com"},
        "loyalty": {"tier": "gold" if i % 2 == 0 else None},
        "consents": {"marketing": {"any": {"val": "n" if i == 3 else "y"},
                                   "email": {"val": "n" if i == 4 else "y"}}},
        "identityMap": {"ECID": [{"id": ecid(i), "primary": True}],
                        "Email": [{"id": f"p{i}@example.com", "primary": False}]},
    }
    row.update(overrides)
    return row


def event_rows() -> list[dict[str, Any]]:
    """Purchases 5 * i days before NOW, and page views of person 0."""
    rows = [{"_id": f"buy-{i}", "timestamp": (NOW - timedelta(days=5 * i)).isoformat(),
             "eventType": "commerce.purchases", "_tenant": {"userid": ecid(i)},
             "commerce": {"purchases": {"value": 1.0}}} for i in range(PEOPLE)]
    rows += [{"_id": f"view-{k}", "timestamp": (NOW - timedelta(hours=k)).isoformat(),
              "eventType": "web.webpagedetails.pageViews", "_tenant": {"userid": ecid(0)}}
             for k in range(3)]
    return rows


@dataclass
class World:
    """The platform of a test with its profile and event datasets."""

    platform: Platform

    def ids(self, *indexes: int) -> set[str]:
        """ECIDs of people by index."""
        return {ecid(i) for i in indexes}

    def rescore(self, scores: dict[int, float]) -> None:
        """Overwrite the profiles with new propensities for some people."""
        rows = [profile_row(i, scores.get(i)) for i in range(PEOPLE)]
        self.platform.lake.write("profiles", rows, mode="overwrite")


@pytest.fixture
def world(platform: Platform) -> World:
    platform.create_dataset("profiles", scored_schema(), profile_enabled=True)
    platform.create_dataset("experience_events", xdm.experience_event_schema(),
                            profile_enabled=True)
    platform.lake.write("profiles", [profile_row(i) for i in range(PEOPLE)])
    platform.lake.write("experience_events", event_rows())
    return World(platform)
