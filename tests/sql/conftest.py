"""Small, hand-checkable experience events for the Query Service tests.

Three users in two batches (A and B first, then C), with the reference's event types:

    A: emailSent 00:00, emailOpened 00:10, emailClicked 00:30, pageViews 00:40,
       productViews 00:45, formFilledOut 00:46
    B: emailSent 00:00, emailSent 02:00, emailOpened 03:00
    C: impressions 00:00, pageViews 00:05, productViews 00:20, formFilledOut 00:50
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from distillery import Platform
from distillery.lake import xdm

T0 = datetime(2024, 3, 1, tzinfo=UTC)
USER_A = "1" * 38
USER_B = "2" * 38
USER_C = "3" * 38
USER_D = "4" * 38

SENT = "directMarketing.emailSent"
OPENED = "directMarketing.emailOpened"
CLICKED = "directMarketing.emailClicked"
PAGE = "web.webpagedetails.pageViews"
PRODUCT = "commerce.productViews"
IMPRESSION = "advertising.impressions"
CONVERSION = "web.formFilledOut"

JOURNEYS: dict[str, list[tuple[int, str]]] = {  # minutes after T0, event type
    USER_A: [(0, SENT), (10, OPENED), (30, CLICKED), (40, PAGE), (45, PRODUCT),
             (46, CONVERSION)],
    USER_B: [(0, SENT), (120, SENT), (180, OPENED)],
    USER_C: [(0, IMPRESSION), (5, PAGE), (20, PRODUCT), (50, CONVERSION)],
    USER_D: [(0, SENT), (7, CONVERSION)],
}


def journey_rows(user: str) -> list[dict[str, Any]]:
    """The events of one user, as rows of the ExperienceEvent schema."""
    rows = []
    for i, (minutes, event_type) in enumerate(JOURNEYS[user]):
        email = event_type.startswith("directMarketing")
        rows.append({
            "_id": f"{user[:2]}-{i}",
            "timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
            "eventType": event_type,
            "_tenant": {"userid": user},
            "identityMap": {"ECID": [{"id": user, "authenticatedState": "ambiguous",
                                      "primary": True}]},
            "directMarketing": {"sends": {"value": 1.0}} if email else None,
            "web": None if email else {"webPageDetails": {"pageViews": {"value": 1.0},
                                                          "name": f"page {i}"}},
        })
    return rows


@pytest.fixture
def journeys(platform: Platform) -> Platform:
    """`events` with users A and B in batch 1 (snapshot 1) and C in batch 2 (snapshot 2)."""
    platform.create_dataset("events", xdm.experience_event_schema(), profile_enabled=True)
    platform.ingest("events", journey_rows(USER_A) + journey_rows(USER_B))
    platform.ingest("events", journey_rows(USER_C))
    return platform
