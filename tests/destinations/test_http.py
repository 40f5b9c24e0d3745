"""HTTP activation against a real server on 127.0.0.1 that fails on purpose: 500, 429 with
Retry-After, timeouts, dropped connections, rejected records, refused credentials."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from distillery.audiences import Audiences
from distillery.destinations import DestinationError, Destinations, RunStore, activate
from distillery.errors import ConfigError
from distillery.lake import labels
from distillery.lake.labels import GovernanceError
from tests.audiences.conftest import ecid
from tests.destinations.conftest import Endpoint

pytestmark = pytest.mark.services

ALLOWED = {ecid(i) for i in (2, 4, 5, 6, 7, 8, 9)}  # the audience minus person 3 (opted out)


def webhook(platform, endpoint: Endpoint, **options) -> None:  # type: ignore[no-untyped-def]
    spec = {"url": endpoint.url, "batch_size": 1, "timeout_s": 0.5, "backoff_s": 0.01,
            "max_attempts": 4, "attributes": ["score=_tenant.propensity"], **options}
    Destinations(platform).create("hook", "http", **spec)


def test_every_member_arrives_once_despite_failures_and_rejections(likely,
                                                                   endpoint: Endpoint) -> None:
    platform = likely.platform
    webhook(platform, endpoint)
    endpoint.script = ["500", "ok", "429", "ok", "timeout", "ok", "drop", "ok", "apply-drop",
                       "ok"]
    endpoint.reject_once = {ecid(9)}

    first = activate(platform, "likely", "hook")
    assert (first.state, first.entered, first.excluded, first.sent, first.rejected) == (
        "partial", 7, 1, 6, 1)
    statuses = [s for b in first.details["batches"] for s in b["statuses"]]
    assert {500, 429, 200, "timeout"} <= set(statuses)
    assert any(str(s).startswith("connection error") for s in statuses)
    assert first.details["rejected_sample"] == {ecid(9): "unknown person"}

    second = activate(platform, "likely", "hook")  # the rejected record goes again
    assert (second.state, second.entered, second.unchanged, second.sent) == (
        "succeeded", 1, 6, 1)

    assert set(endpoint.applied_ids()) == ALLOWED
    assert set(endpoint.applied_ids().values()) == {1}  # none twice
    keys = [r["key"] for r in endpoint.requests]
    assert len(keys) > len(set(keys))  # retries reused their batch's idempotency key
    assert all(ecid(3).encode() not in r["body"] for r in endpoint.requests)
    runs = RunStore(platform.catalog).list("hook")
    assert [r.state for r in runs] == ["succeeded", "partial"]


def test_only_changes_go_out_later(likely, endpoint: Endpoint) -> None:
    platform = likely.platform
    webhook(platform, endpoint, batch_size=10)
    activate(platform, "likely", "hook")
    likely.rescore({9: 0.1, 2: 0.25})  # 9 leaves the audience, 2's score changes
    Audiences(platform).evaluate("likely")
    requests_before = len(endpoint.requests)
    dry = activate(platform, "likely", "hook", dry_run=True)
    assert (dry.entered, dry.exited, dry.updated, dry.unchanged) == (0, 1, 1, 5)
    assert len(endpoint.requests) == requests_before  # a dry run sends nothing
    run = activate(platform, "likely", "hook")
    assert (run.sent, run.exited, run.updated) == (2, 1, 1)
    last = [r for r in endpoint.applied][-2:]
    assert {(r["identities"]["ECID"], r["status"]) for r in last} == {
        (ecid(2), "existing"), (ecid(9), "exited")}
    assert next(r for r in last if r["status"] == "existing")["attributes"] == {"score": 0.25}
    assert activate(platform, "likely", "hook").sent == 0


def test_a_batch_that_never_gets_through_is_sent_next_run(likely, endpoint: Endpoint) -> None:
    platform = likely.platform
    webhook(platform, endpoint, batch_size=4, max_attempts=2)
    endpoint.script = ["503", "503"]  # the first batch fails twice, then gives up
    run = activate(platform, "likely", "hook")
    assert run.state == "partial" and run.sent == 3 and run.details["failed_batches"] == 1
    again = activate(platform, "likely", "hook")
    assert (again.state, again.entered, again.sent) == ("succeeded", 4, 4)
    assert set(endpoint.applied_ids()) == ALLOWED and set(endpoint.applied_ids().values()) == {1}


def test_a_dead_endpoint_fails_the_run_and_loses_nothing(likely, endpoint: Endpoint) -> None:
    platform = likely.platform
    webhook(platform, endpoint, batch_size=2, max_attempts=2)
    endpoint.script = ["500"] * 6  # three batches in a row fail: the run stops trying
    with pytest.raises(DestinationError, match="delivered nothing"):
        activate(platform, "likely", "hook")
    failed = RunStore(platform.catalog).list("hook")[0]
    assert failed.state == "failed" and failed.details["not_attempted"] == 1
    assert len(endpoint.requests) == 6
    run = activate(platform, "likely", "hook")
    assert run.state == "succeeded" and set(endpoint.applied_ids()) == ALLOWED


def test_refused_credentials_stop_the_run(likely, endpoint: Endpoint) -> None:
    platform = likely.platform
    webhook(platform, endpoint)
    endpoint.script = ["401"]
    with pytest.raises(DestinationError, match="answered HTTP 401") as info:
        activate(platform, "likely", "hook")
    assert info.value.status == 401
    assert RunStore(platform.catalog).list("hook")[0].state == "failed"
    assert activate(platform, "likely", "hook").sent == 7


def test_secrets_come_from_the_environment_and_never_reach_records(
        likely, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    platform = likely.platform
    token = "s3cr3t-t0ken-value"
    monkeypatch.setenv("HOOK_TOKEN", token)
    webhook(platform, endpoint, token="env:HOOK_TOKEN", headers={"X-Team": "growth"})
    endpoint.script = ["echo-auth"]
    with pytest.raises(DestinationError) as info:
        activate(platform, "likely", "hook")
    assert token not in str(info.value) and "***" in str(info.value)
    run = activate(platform, "likely", "hook")
    assert run.sent == 7
    seen = endpoint.requests[-1]["headers"]
    assert seen["Authorization"] == f"Bearer {token}" and seen["X-Team"] == "growth"
    for path in home.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
    assert Destinations(platform).list()[0]["spec"]["token"] == "env:HOOK_TOKEN"


def test_secrets_from_the_secrets_file(likely, endpoint: Endpoint, home: Path) -> None:
    platform = likely.platform
    secrets = home / "secrets.yaml"
    secrets.write_text("hook_key: from-the-file\n")
    os.chmod(secrets, 0o600)
    webhook(platform, endpoint, headers={"X-Api-Key": "secret:hook_key"})
    activate(platform, "likely", "hook")
    assert endpoint.requests[-1]["headers"]["X-Api-Key"] == "from-the-file"
    webhook_missing = {"headers": {"X-Api-Key": "secret:nope"}}
    Destinations(platform).create("hook2", "http", url=endpoint.url, **webhook_missing)
    with pytest.raises(ConfigError, match="names secret 'nope', which is not in"):
        activate(platform, "likely", "hook2")


def test_credentials_in_the_spec_are_refused(likely, endpoint: Endpoint,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    platform = likely.platform
    destinations = Destinations(platform)
    with pytest.raises(ConfigError, match="header 'Authorization' is a credential"):
        destinations.create("h", "http", url=endpoint.url,
                            headers={"Authorization": "Bearer abc"})
    with pytest.raises(ConfigError, match="option 'token'.*never the token itself"):
        destinations.create("h", "http", url=endpoint.url, token="abc")
    with pytest.raises(ConfigError, match="credentials do not belong in the URL"):
        destinations.create("h", "http", url="http://user:pw@127.0.0.1/x")
    monkeypatch.delenv("NO_SUCH_VARIABLE", raising=False)
    destinations.create("h", "http", url=endpoint.url, token="env:NO_SUCH_VARIABLE")
    with pytest.raises(ConfigError, match="environment variable NO_SUCH_VARIABLE, which is "
                                          "not set"):
        activate(platform, "likely", "h")
    assert endpoint.requests == []


def test_labelled_fields_never_reach_the_server(likely, endpoint: Endpoint) -> None:
    platform = likely.platform
    labels.add_labels(platform, "profiles", ["C2"], field="personalEmail.address")
    webhook(platform, endpoint, identities=["Email=personalEmail.address"])
    with pytest.raises(GovernanceError, match="label C2 .* on field 'personalEmail.address' "
                                              "of dataset 'profiles' \\(sent as Email\\)"):
        activate(platform, "likely", "hook")
    with pytest.raises(GovernanceError):
        activate(platform, "likely", "hook", dry_run=True)
    assert endpoint.requests == []
    refused = RunStore(platform.catalog).list("hook")[0]
    assert refused.state == "refused" and "C2" in refused.error
    assert json.dumps(refused.details["violations"]).count("C2") >= 1
    # Without the labelled identity the same destination may receive the audience.
    run = activate(platform, "likely", "hook", identities=[])
    assert run.sent == 7 and all(b"example.com" not in r["body"] for r in endpoint.requests)
