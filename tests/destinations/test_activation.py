"""Activation through the one destination interface: @destination functions, the dummy
destination that fails on purpose, dry runs, consent, TTL and governance refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from distillery.audiences import AudienceError, AudienceExpiredError, Audiences
from distillery.destinations import (
    DestinationError,
    Destinations,
    RunStore,
    activate,
    destination,
)
from distillery.lake import labels
from distillery.lake.labels import GovernanceError
from tests.audiences.conftest import ecid, profile_row

ALLOWED = {ecid(i) for i in (2, 4, 5, 6, 7, 8, 9)}


def test_a_decorated_function_receives_changes_and_can_reject(likely) -> None:
    received: list[dict] = []

    @destination(batch_size=3, attributes=["score=_tenant.propensity"], third_party=False)
    def crm(rows: list[dict], audience) -> list[str]:  # type: ignore[no-untyped-def]
        assert audience.name == "likely"
        received.extend(rows)
        return [ecid(5)] if any(r["ECID"] == ecid(5) for r in rows) and len(received) < 8 \
            else []

    first = activate(likely.platform, "likely", to=crm)
    assert (first.state, first.sent, first.rejected) == ("partial", 6, 1)
    assert set(received[0]) == {"ECID", "score", "segmentMembership.status"}
    second = activate(likely.platform, "likely", to="crm")  # found by name in this process
    assert (second.state, second.entered, second.sent) == ("succeeded", 1, 1)
    assert {r["ECID"] for r in received} == ALLOWED and len(received) == 8


def test_a_destination_that_raises_keeps_what_it_delivered(likely, tmp_path: Path) -> None:
    sent = tmp_path / "sent.jsonl"
    Destinations(likely.platform).create("rehearsal", "dummy", path=str(sent), batch_size=2,
                                         raise_on_batch=3)
    with pytest.raises(DestinationError, match="fails on batch 3, as configured"):
        activate(likely.platform, "likely", "rehearsal")
    run = RunStore(likely.platform.catalog).list("rehearsal")[0]
    assert run.state == "failed" and "fails on batch 3" in run.error
    delivered = [json.loads(x)["ECID"] for x in sent.read_text().splitlines()]
    assert len(delivered) == 4
    Destinations(likely.platform).create("rehearsal", "dummy", path=str(sent), batch_size=2,
                                         replace=True)
    again = activate(likely.platform, "likely", "rehearsal")
    assert (again.entered, again.sent) == (3, 3)  # only what did not arrive before
    delivered = [json.loads(x)["ECID"] for x in sent.read_text().splitlines()]
    assert sorted(delivered) == sorted(ALLOWED)


def test_the_dummy_rejects_and_fails_batches_as_told(likely, tmp_path: Path) -> None:
    Destinations(likely.platform).create("rehearsal", "dummy", batch_size=3,
                                         reject=[ecid(2)], fail_batches=[2])
    run = activate(likely.platform, "likely", "rehearsal")
    assert (run.state, run.sent, run.rejected, run.details["failed_batches"]) == (
        "partial", 3, 1, 1)


def test_dry_run_counts_and_sends_nothing(likely) -> None:
    received: list[dict] = []

    @destination
    def sink(rows: list[dict], audience) -> None:  # type: ignore[no-untyped-def]
        received.extend(rows)

    dry = activate(likely.platform, "likely", to=sink, dry_run=True)
    assert (dry.dry_run, dry.entered, dry.exited, dry.updated, dry.excluded) == (
        True, 7, 0, 0, 1)
    assert received == [] and dry.details["to_send"] == 7
    assert RunStore(likely.platform.catalog).list("sink")[0].dry_run is True


def test_channel_consent_excludes_people_who_refused_that_channel(likely) -> None:
    received: list[dict] = []

    @destination(consent_channel="email")
    def mailer(rows: list[dict], audience) -> None:  # type: ignore[no-untyped-def]
        received.extend(rows)

    run = activate(likely.platform, "likely", to=mailer)
    assert run.excluded == 2  # person 3 (any) and person 4 (email)
    assert {r["ECID"] for r in received} == ALLOWED - {ecid(4)}


def test_someone_who_opts_out_later_is_sent_an_exit_only(likely) -> None:
    received: list[dict] = []

    @destination(attributes=["_tenant.propensity"])
    def sink(rows: list[dict], audience) -> None:  # type: ignore[no-untyped-def]
        received.extend(rows)

    activate(likely.platform, "likely", to=sink)
    rows = [profile_row(i) for i in range(10)]
    rows[7]["consents"] = {"marketing": {"any": {"val": "n"}}}
    likely.platform.lake.write("profiles", rows, mode="overwrite")
    run = activate(likely.platform, "likely", to=sink)
    assert (run.exited, run.excluded, run.sent) == (1, 2, 1)
    assert received[-1] == {"ECID": ecid(7), "_tenant.propensity": None,
                            "segmentMembership.status": "exited"}


def test_activation_needs_a_current_evaluation(likely) -> None:
    @destination
    def sink(rows: list[dict], audience) -> None:  # type: ignore[no-untyped-def]
        pass

    audiences = Audiences(likely.platform)
    audiences.create("fresh", "_tenant.propensity > 0.5")
    with pytest.raises(AudienceError, match="has not been evaluated yet"):
        activate(likely.platform, "fresh", to=sink)
    audiences.update("likely", ttl_days=1)
    job = audiences.current_job("likely")
    audiences.store.update_job(job, finished_at=(datetime.now(UTC) - timedelta(days=2))
                               .isoformat())
    with pytest.raises(AudienceExpiredError, match="ttl 1 days"):
        activate(likely.platform, "likely", to=sink)
    assert [r.state for r in RunStore(likely.platform.catalog).list("sink")] == [
        "refused", "refused"]


def test_no_consent_field_means_no_activation(world) -> None:
    platform = world.platform
    platform.query("SELECT count(*) FROM profiles").scalar()
    platform.query("CREATE TABLE scores AS SELECT _tenant.userid AS id, _tenant.propensity AS p "
                   "FROM profiles")
    platform.drop_dataset("profiles")
    audiences = Audiences(platform)
    audiences.create("bare", "p > 0.5", source="scores", identity="id", namespace="ECID")
    audiences.evaluate("bare")

    @destination
    def sink(rows: list[dict], audience) -> None:  # type: ignore[no-untyped-def]
        raise AssertionError("nothing may be sent")

    with pytest.raises(GovernanceError, match="cannot check marketing consent for audience "
                                              "'bare'.*consents.marketing.any.val"):
        activate(platform, "bare", to=sink)


def test_a_sql_audience_sends_its_own_columns_and_inherits_labels(likely) -> None:
    platform = likely.platform
    labels.add_labels(platform, "profiles", ["C4"], field="loyalty.tier")
    platform.query("CREATE AUDIENCE gold WITH (primary_identity=userid, identity_namespace="
                   "ECID) AS SELECT _tenant.userid AS userid, _tenant.propensity AS score "
                   "FROM profiles WHERE loyalty.tier = 'gold'")
    received: list[dict] = []

    @destination(attributes=["score"], third_party=False)
    def sink(rows: list[dict], audience) -> None:  # type: ignore[no-untyped-def]
        received.extend(rows)

    # The audience was selected with a C4 field (no targeting): it cannot be activated.
    with pytest.raises(GovernanceError, match="label C4 .* of dataset 'gold'"):
        activate(platform, "gold", to=sink)
    labels.remove_labels(platform, "gold", ["C4"])
    run = activate(platform, "gold", to=sink)
    assert run.sent == 5 and {r["score"] for r in received} == {0.0, 0.2, 0.4, 0.6, 0.8}


def test_c9_on_a_score_does_not_block_activation(likely) -> None:
    labels.add_labels(likely.platform, "profiles", ["C9"], field="_tenant.propensity")

    @destination(attributes=["_tenant.propensity"])
    def sink(rows: list[dict], audience) -> None:  # type: ignore[no-untyped-def]
        pass

    assert activate(likely.platform, "likely", to=sink).sent == 7
