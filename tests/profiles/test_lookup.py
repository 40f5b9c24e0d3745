"""One person by any identity: attributes, identities, recent events, scores with model
versions; clear errors for malformed and unknown identities."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from distillery import Platform, profiles
from distillery.profiles.errors import IdentityError, ProfileNotFoundError
from distillery.scoring import ingest_scores
from tests.conftest import ECID_A, ECID_B, event_rows
from tests.profiles.conftest import profile_row


@pytest.fixture
def person(platform: Platform, profiles_ds, events) -> Platform:
    platform.ingest(profiles_ds, [profile_row(ECID_A, emails=("ann@x.com",),
                                              person={"name": {"firstName": "Ann"}},
                                              loyalty={"tier": "gold"})])
    start = datetime(2025, 1, 1, tzinfo=UTC)
    platform.ingest(events, event_rows(12, ECID_A, start) + event_rows(3, ECID_B, start))
    t1, t2 = start + timedelta(days=1), start + timedelta(days=2)
    for version, value, at in (("1", 0.2, t1), ("2", 0.7, t2)):
        ingest_scores(platform, [{"_tenant.userid": ECID_A, "_tenant.propensity": value,
                                  "_tenant.modelName": "propensity",
                                  "_tenant.modelVersion": version,
                                  "_tenant.scoredAt": at.isoformat()}],
                      mapping={c: c for c in ("_tenant.userid", "_tenant.propensity",
                                              "_tenant.modelName", "_tenant.modelVersion",
                                              "_tenant.scoredAt")})
    return platform


def test_a_person_by_email_or_ecid(person: Platform) -> None:
    by_email = profiles.profile(person, "Email:ann@x.com", events=5)
    by_ecid = profiles.profile(person, f"ecid:{ECID_A}")
    assert by_email.person_id == by_ecid.person_id == f"ECID:{ECID_A}"
    assert {(i["namespace"], i["id"]) for i in by_email.identities} == {
        ("ECID", ECID_A), ("Email", "ann@x.com")}
    assert by_email.attributes["person"]["name"]["firstName"] == "Ann"
    assert by_email.attributes["_tenant"]["propensity"] == 0.7  # the latest score wins
    assert by_email.merge_policy == "timestamp-ordered"
    times = [e["timestamp"] for e in by_email.events]
    assert len(times) == 5 and times == sorted(times, reverse=True)
    assert times[0] == datetime(2025, 1, 1, 0, 11, tzinfo=UTC)
    assert [(s["modelVersion"], s["propensity"]) for s in by_email.scores] == [("2", 0.7),
                                                                               ("1", 0.2)]


def test_malformed_and_unknown_identities(person: Platform) -> None:
    with pytest.raises(IdentityError, match="NAMESPACE:value"):
        profiles.profile(person, ECID_A)
    with pytest.raises(ProfileNotFoundError, match=r"Email:nobody@x\.com"):
        profiles.profile(person, "Email:nobody@x.com")


def test_a_person_with_events_only(person: Platform) -> None:
    view = profiles.profile(person, f"ECID:{ECID_B}")
    assert view.attributes == {}  # events give identities and history, not attributes
    assert len(view.events) == 3 and view.scores == []


def test_no_profiles_yet(platform: Platform) -> None:
    with pytest.raises(ProfileNotFoundError, match="no unified profiles yet"):
        profiles.profile(platform, f"ECID:{ECID_A}")
