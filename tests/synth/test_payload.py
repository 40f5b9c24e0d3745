"""Event payloads and profiles: the XDM fields the reference fills, in the lake's schemas."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from distillery.lake import xdm
from distillery.synth import simulate
from tests.synth.conftest import AS_OF, Run

# Share one worker with the other users of the session's 100,000-user simulation.
pytestmark = pytest.mark.xdist_group("synth_reference")

LINK_CLICK_TYPES = {"advertising.clicks", "commerce.purchases", "web.webinteraction.linkClicks",
                    "web.formFilledOut", "decisioning.propositionInteract",
                    "decisioning.propositionDismiss"}


@pytest.fixture(scope="module")
def rows(reference: Run) -> list[dict]:
    return reference.batches[0].events.slice(0, 5_000).to_pylist()


def test_tables_have_the_lake_schemas(reference: Run) -> None:
    batch = reference.batches[0]
    assert batch.events.schema == xdm.experience_event_schema("tenant").to_arrow()
    assert batch.profiles.schema == xdm.profile_schema("tenant").to_arrow()


def test_tenant_is_configurable() -> None:
    batch = next(simulate(10, 1, as_of=AS_OF, tenant="acme"))
    assert batch.events.schema == xdm.experience_event_schema("acme").to_arrow()
    assert "_acme" in batch.profiles.column_names


def test_email_events_fill_direct_marketing_only(rows: list[dict]) -> None:
    measures = {"directMarketing.emailSent": {"sends", "emailDelivered"},
                "directMarketing.emailOpened": {"opens", "offerOpens"},
                "directMarketing.emailClicked": {"clicks"}}
    seen: Counter[str] = Counter()
    for row in rows:
        kind = row["eventType"]
        if not kind.startswith("directMarketing."):
            continue
        seen[kind] += 1
        dm = row["directMarketing"]
        assert row["web"] is None
        filled = {k for k in ("sends", "emailDelivered", "opens", "offerOpens", "clicks")
                  if dm[k] is not None}
        assert filled == measures[kind]
        assert all(dm[k] == {"value": 1.0} for k in filled)
        email = row["identityMap"][1][1][0]["id"]
        assert dm["emailVisitorID"] == email
        assert len(dm["hashedEmail"]) == 32 and len(dm["messageID"]) == 16
    assert set(seen) == set(measures)


def test_other_events_fill_web_only(rows: list[dict]) -> None:
    for row in rows:
        kind = row["eventType"]
        if kind.startswith("directMarketing."):
            continue
        web = row["web"]
        assert row["directMarketing"] is None
        details, interaction = web["webPageDetails"], web["webInteraction"]
        assert details["pageViews"] == {"value": 1.0}
        assert details["URL"].startswith("https://www.example.com/")
        assert details["server"] == "www.example.com"
        assert isinstance(details["isErrorPage"], bool)
        assert interaction["linkClicks"]["value"] == (1.0 if kind in LINK_CLICK_TYPES else 0.0)
        assert interaction["type"] in {"download", "exit", "other"}
        assert web["webReferrer"]["type"]


def test_identity_and_top_level_fields(rows: list[dict]) -> None:
    for row in rows[:500]:
        ecid = row["_tenant"]["userid"]
        assert len(ecid) == 38
        (ns1, [first]), (ns2, [second]) = row["identityMap"]
        assert (ns1, ns2) == ("ECID", "Email")
        assert first == {"id": ecid, "authenticatedState": "ambiguous", "primary": True}
        assert second["primary"] is False and second["id"].startswith("synthetic-user-")
        assert row["producedBy"] == "self"
        assert row["commerce"] is None


def test_email_threads_tie_opens_to_sends(reference: Run) -> None:
    events = reference.batches[0].events
    dm = events["directMarketing"].combine_chunks()
    kinds = events["eventType"].to_numpy(zero_copy_only=False)
    messages = dm.field("messageID").to_numpy(zero_copy_only=False)
    sent = set(messages[kinds == "directMarketing.emailSent"])
    opened = messages[kinds == "directMarketing.emailOpened"]
    assert len(opened) and all(m in sent for m in opened)


def test_children_of_null_structs_are_null(reference: Run) -> None:
    events = reference.batches[0].events
    web = events["web"].combine_chunks()
    details = web.field("webPageDetails")
    assert details.null_count == web.null_count
    assert details.field("URL").null_count == web.null_count


def test_profiles(reference: Run) -> None:
    batch = reference.batches[1]
    profiles = batch.profiles.to_pylist()
    assert len(profiles) == batch.truth_users.num_rows
    tiers = Counter(p["loyalty"]["tier"] for p in profiles)
    assert set(tiers) == {"diamond", "platinum", "gold", "silver", "member"}
    assert tiers["member"] > tiers["silver"] > tiers["gold"] > tiers["platinum"] > tiers["diamond"]
    first = profiles[0]
    assert first["personalEmail"]["address"] == "synthetic-user-10000@example.com"
    assert first["_tenant"]["userid"] == batch.truth_users["userid"][0].as_py()
    for p in profiles[:1000]:
        assert p["person"]["name"]["firstName"] and p["person"]["name"]["lastName"]
        assert p["person"]["gender"] in {"male", "female", "not_specified"}
        phone = p["mobilePhone"]["number"]
        assert phone.startswith("+1-") and len(phone) == 15
        address = p["homeAddress"]
        assert address["country"] == "US" and len(address["postalCode"]) == 5
        assert len(address["stateProvince"]) == 2 and address["street1"][0].isdigit()
        assert p["loyalty"]["loyaltyID"].startswith("LY") and p["loyalty"]["points"] >= 0
        assert p["loyalty"]["joinDate"] < AS_OF.date()
        assert 17 < (AS_OF.date() - p["person"]["birthDate"]).days / 365.25 < 81
        consents = p["consents"]
        assert {consents["collect"]["val"], consents["share"]["val"]} <= {"y", "n"}
    ids = [p["loyalty"]["loyaltyID"] for p in profiles]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("share", [0.0, 0.1, 0.3])
def test_opt_out_share(share: float) -> None:
    profiles = next(simulate(10_000, 5, as_of=AS_OF, opt_out_share=share)).profiles
    consents = profiles["consents"].combine_chunks()
    marketing = consents.field("marketing")
    opted_out = pc.equal(marketing.field("any").field("val"), "n").to_numpy(
        zero_copy_only=False)
    assert opted_out.mean() == pytest.approx(share, abs=0.015)
    email = pc.equal(marketing.field("email").field("val"), "n").to_numpy(zero_copy_only=False)
    assert (email[opted_out]).all()


def test_domain_is_configurable() -> None:
    batch = next(simulate(5, 1, as_of=AS_OF, domain="shop.test"))
    assert batch.profiles["personalEmail"][0].as_py() == {"address": "synthetic-user-0@shop.test"}
    web = [r["web"] for r in batch.events.to_pylist() if r["web"]]
    assert web and all(w["webPageDetails"]["server"] == "www.shop.test" for w in web)
    assert isinstance(np.asarray(batch.truth_events["subscriptionPropensity"]), np.ndarray)
    assert isinstance(batch.events, pa.Table)
