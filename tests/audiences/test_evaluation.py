"""Evaluation jobs: states and metrics, membership status against the previous evaluation,
memberships in SQL, failures that keep the previous membership, explicit TTLs, schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from distillery.audiences import (
    MEMBERSHIPS,
    AudienceError,
    AudienceExpiredError,
    AudienceNotFoundError,
    Audiences,
)
from distillery.errors import AlreadyExistsError, DistilleryError
from tests.audiences.conftest import NOW, World

RULE = "_{tenant}.propensity >= 0.5"


def test_a_job_goes_through_its_states_and_records_metrics(world: World) -> None:
    audiences = Audiences(world.platform)
    audiences.create("likely", RULE)
    job = audiences.evaluate("likely", as_of=NOW)
    assert (job.state, job.qualified, job.realized, job.existing, job.exited) == (
        "SUCCEEDED", 5, 5, 0, 0)
    assert job.duration_s is not None and job.duration_s >= 0
    assert job.started_at and job.finished_at and job.as_of == NOW.isoformat()
    stored = audiences.job(job.id)
    assert stored == job and audiences.job(job.number) == job
    assert [j.number for j in audiences.jobs("likely")] == [job.number]


def test_status_is_realized_existing_or_exited_against_the_previous_job(world: World) -> None:
    audiences = Audiences(world.platform)
    audiences.create("likely", RULE)
    first = audiences.evaluate("likely")
    world.rescore({5: 0.1, 6: 0.2, 1: 0.9})  # 5 and 6 leave, 1 enters
    second = audiences.evaluate("likely")
    assert (second.realized, second.existing, second.exited, second.qualified) == (1, 3, 2, 4)
    assert second.previous == first.number
    status = {r["person_id"]: r["status"]
              for r in audiences.members("likely", with_exited=True).to_pylist()}
    assert status == {**dict.fromkeys(world.ids(1), "realized"),
                      **dict.fromkeys(world.ids(7, 8, 9), "existing"),
                      **dict.fromkeys(world.ids(5, 6), "exited")}
    third = audiences.evaluate("likely")  # nothing changed: exits are not repeated
    assert (third.realized, third.existing, third.exited) == (0, 4, 0)


def test_memberships_are_a_dataset_readable_in_sql(world: World) -> None:
    audiences = Audiences(world.platform)
    audiences.create("likely", RULE)
    job = audiences.evaluate("likely")
    rows = world.platform.query(
        f"SELECT audience, status, count(*) AS n FROM {MEMBERSHIPS} WHERE job = :job "
        "GROUP BY 1, 2", {"job": job.number}).rows()
    assert rows == [("likely", "realized", 5)]
    assert world.platform.dataset(MEMBERSHIPS).schema.cls == "adhoc"


def test_a_failed_job_is_recorded_and_keeps_the_previous_membership(world: World) -> None:
    audiences = Audiences(world.platform)
    audiences.create("likely", RULE)
    good = audiences.evaluate("likely")
    world.platform.drop_dataset("profiles")
    with pytest.raises(DistilleryError, match="profiles"):
        audiences.evaluate("likely")
    failed = audiences.jobs("likely")[0]
    assert failed.state == "FAILED" and "profiles" in failed.error
    assert "profiles" in audiences.describe("likely")["problem"]
    assert audiences.current_job("likely").number == good.number
    assert audiences.members("likely").num_rows == 5


def test_ttl_is_explicit_shown_and_enforced(world: World) -> None:
    audiences = Audiences(world.platform)
    audiences.create("short", RULE, ttl_days=30)
    audiences.create("forever", RULE)
    job = audiences.evaluate("short")
    audiences.evaluate("forever")
    shown = audiences.describe("short")
    expected = datetime.fromisoformat(job.finished_at) + timedelta(days=30)
    assert (shown["ttl"], shown["expires_at"], shown["expired"]) == (
        "30 days", expected.isoformat(), False)
    assert audiences.describe("forever")["ttl"] == "none (never expires)"
    # Age the evaluation past its TTL: using it is refused, loudly; nothing is deleted.
    old = (datetime.now(UTC) - timedelta(days=31)).isoformat()
    audiences.store.update_job(job, finished_at=old)
    with pytest.raises(AudienceExpiredError, match="expired at .* \\(ttl 30 days\\); "
                                                   "evaluate it again"):
        audiences.members("short")
    assert audiences.describe("short")["expired"] is True
    assert audiences.members("short", allow_expired=True).num_rows == 5
    audiences.evaluate("short")
    assert audiences.members("short").num_rows == 5


@pytest.mark.parametrize("ttl", [0, -3, "soon", 1.5])
def test_a_bad_ttl_is_refused(world: World, ttl: object) -> None:
    with pytest.raises(AudienceError, match="ttl_days must be a whole number"):
        Audiences(world.platform).create("a", RULE, ttl_days=ttl)  # type: ignore[arg-type]


def test_scheduled_audiences_run_when_due(world: World) -> None:
    audiences = Audiences(world.platform)
    audiences.create("hourly", RULE, schedule="every 1h")
    audiences.create("manual", RULE)
    assert audiences.evaluate_due(datetime.now(UTC)) == []
    later = datetime.now(UTC) + timedelta(hours=1, minutes=1)
    jobs = audiences.evaluate_due(later)
    assert [(j.audience, j.trigger, j.state) for j in jobs] == [
        ("hourly", "schedule", "SUCCEEDED")]
    assert datetime.fromisoformat(audiences.get("hourly").next_run_at) > later
    assert audiences.evaluate_due(later) == []
    with pytest.raises(DistilleryError, match="schedule 'sometimes'"):
        audiences.create("bad", RULE, schedule="sometimes")


def test_names_are_checked_and_unique(world: World) -> None:
    audiences = Audiences(world.platform)
    with pytest.raises(AudienceError, match="audience name 'high value' is invalid"):
        audiences.create("high value", RULE)
    audiences.create("likely", RULE)
    with pytest.raises(AlreadyExistsError, match="audience 'likely' exists already"):
        audiences.create("likely", RULE)
    with pytest.raises(AudienceNotFoundError, match="audience 'unlikely' does not exist"):
        audiences.evaluate("unlikely")
    with pytest.raises(AudienceError, match="has not been evaluated yet"):
        audiences.members("likely")


def test_drop_keeps_history(world: World) -> None:
    audiences = Audiences(world.platform)
    audiences.create("likely", RULE)
    job = audiences.evaluate("likely")
    audiences.drop("likely")
    assert audiences.list() == [] and audiences.drop("likely", if_exists=True) is None
    with pytest.raises(AudienceNotFoundError):
        audiences.drop("likely")
    assert world.platform.query(f"SELECT count(*) FROM {MEMBERSHIPS} WHERE job = :j",
                                {"j": job.number}).scalar() == 5
