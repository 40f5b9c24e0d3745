"""Audiences over the profiles step's unified profile table, and memberships back in it."""

from __future__ import annotations

import pytest

from distillery.audiences import Audiences
from distillery.destinations import activate, destination
from tests.audiences.conftest import NOW, World, ecid

profiles = pytest.importorskip("distillery.profiles",
                               reason="the profiles step (unified profiles) is not installed")


@pytest.mark.slow
def test_rule_audience_on_unified_profiles_and_memberships_in_them(world: World) -> None:
    platform = world.platform
    profiles.refresh(platform)
    audiences = Audiences(platform)
    # The unified table is the default source; its identity is the tenant's userid (ECID).
    audience = audiences.create("likely", "_{tenant}.propensity >= 0.5")
    assert (audience.source, audience.identity, audience.namespace) == (
        profiles.UNIFIED, "_tenant.userid", "ECID")
    assert audiences.evaluate("likely", as_of=NOW).qualified == 5
    received: list[dict] = []

    @destination
    def sink(rows: list[dict], aud) -> None:  # type: ignore[no-untyped-def]
        received.extend(rows)

    activate(platform, "likely", to=sink)  # consent is read from the unified table
    assert {r["ECID"] for r in received} == {ecid(i) for i in range(5, 10)}
    profiles.refresh(platform, full=True)
    listed = dict(platform.query(
        f"SELECT person_id, audienceMemberships FROM {profiles.UNIFIED}").rows())
    assert listed[f"ECID:{ecid(7)}"] == [{"audience": "likely", "status": "realized"}]
    assert not listed[f"ECID:{ecid(1)}"]
