"""Saved dataflows, run history, schedules and the lease that keeps runs from overlapping."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from distillery import Platform
from distillery.errors import AlreadyExistsError, ConfigError, NotFoundError
from distillery.flows import schedule as sched
from distillery.flows.dataflows import Dataflows
from distillery.flows.runner import DataflowBusyError
from distillery.flows.specs import ExportSpec
from distillery.flows.store import FlowStore


@pytest.fixture
def flows(platform: Platform) -> Dataflows:
    platform.lake.write("training", pa.table({"userId": ["a", "b", "c"], "x": [1.0, 2.0, 3.0]}))
    return Dataflows(platform)


def spec(tmp_path: Path, **extra) -> ExportSpec:
    return ExportSpec(dataset="training", url=str(tmp_path / "out"), **extra)


def test_create_list_show_delete(flows: Dataflows, tmp_path: Path) -> None:
    rec = flows.create("nightly", spec(tmp_path), schedule="0 3 * * *")
    assert rec.kind == "export" and rec.schedule == "0 3 * * *"
    assert [f.name for f in flows.list()] == ["nightly"]
    assert flows.spec("nightly").format == "parquet"
    with pytest.raises(AlreadyExistsError):
        flows.create("nightly", spec(tmp_path))
    flows.run("nightly")
    assert len(flows.runs("nightly")) == 1
    flows.delete("nightly")
    with pytest.raises(NotFoundError, match="nightly"):
        flows.get("nightly")
    assert flows.store.runs("nightly") == []


@pytest.mark.parametrize(("name", "options", "message"), [
    ("bad name!", {}, "dataflow name"),
    ("ok", {"schedule": "sometimes"}, "schedule 'sometimes'"),
    ("ok", {"spec": {"kind": "export", "dataset": "training", "url": "/x", "format": "xls"}},
     "format 'xls'"),
    ("ok", {"spec": {"kind": "export", "dataset": "nope", "url": "/x"}}, "dataset 'nope'"),
    ("ok", {"spec": {"kind": "source", "dataset": "training", "url": "/x",
                     "mapping": {"a": "__import__('os')"}}}, "not allowed"),
])
def test_bad_definitions_are_refused_by_name(flows: Dataflows, tmp_path: Path, name: str,
                                             options: dict, message: str) -> None:
    given = options.pop("spec", spec(tmp_path))
    with pytest.raises((ConfigError, NotFoundError), match=message):
        flows.create(name, given, **options)
    assert flows.list() == []


def test_run_record_has_metrics(flows: Dataflows, tmp_path: Path) -> None:
    flows.create("out", spec(tmp_path))
    run = flows.run("out", run_id="first")
    assert run.state == "success" and run.rows == 3 and run.files == 1
    assert run.bytes == run.details["parts"][0]["bytes"] > 0
    assert run.duration_s is not None and run.duration_s >= 0 and run.finished_at
    assert flows.run_record("first") == run


def test_failed_run_is_recorded_and_retried_next_time(flows: Dataflows, platform: Platform,
                                                     tmp_path: Path) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the export folder should be")
    flows.create("every-minute", ExportSpec(dataset="training", url=str(blocker)),
                 schedule="every 1m")
    [failed] = flows.run_due()
    assert failed.state == "failed" and failed.trigger == "schedule"
    assert str(blocker) in failed.error
    assert flows.run_due() == []  # not due again until its next time
    blocker.unlink()
    later = sched.now() + timedelta(minutes=1, seconds=1)
    [retried] = flows.run_due(now=later)
    assert retried.state == "success" and retried.rows == 3
    assert [r.state for r in flows.runs("every-minute")] == ["success", "failed"]


def test_cron_schedule_is_due_at_its_time(flows: Dataflows, tmp_path: Path) -> None:
    rec = flows.create("hourly", spec(tmp_path), schedule="0 * * * *")
    nxt = datetime.fromisoformat(rec.next_run_at)
    assert nxt.minute == 0 and nxt.second == 0 and nxt > sched.now() - timedelta(seconds=5)
    assert flows.due(nxt - timedelta(seconds=1)) == []
    assert [f.name for f in flows.due(nxt)] == ["hourly"]
    flows.update("hourly", enabled=False)
    assert flows.due(nxt) == []


def test_lease_held_by_another_process_prevents_overlap(flows: Dataflows, platform: Platform,
                                                        tmp_path: Path) -> None:
    flows.create("shared", spec(tmp_path), schedule="every 1s")
    code = ("import sys; from distillery import Platform; from distillery.flows.store import "
            "FlowStore; p = Platform.open(sys.argv[1]); "
            "print(FlowStore(p.catalog).acquire('shared', 'other-run', 'other-process', 600))")
    held = subprocess.run([sys.executable, "-c", code, str(platform.home)], capture_output=True,
                          text=True, timeout=60)
    assert held.stdout.strip() == "True", held.stderr
    with pytest.raises(DataflowBusyError, match="other-run"):
        flows.run("shared")
    assert flows.run_due() == [] and flows.runs("shared") == []
    FlowStore(platform.catalog).release("shared", "other-run")
    assert flows.run("shared").state == "success"


def test_lease_of_a_dead_process_expires_and_its_run_is_failed(flows: Dataflows,
                                                               platform: Platform,
                                                               tmp_path: Path) -> None:
    flows.create("crashy", spec(tmp_path))
    code = ("import os, sys; from distillery import Platform; "
            "from distillery.flows.store import FlowStore, RunRecord; "
            "p = Platform.open(sys.argv[1]); s = FlowStore(p.catalog); "
            "s.acquire('crashy', 'dead-run', 'gone', 0.2); "
            "s.start_run(RunRecord('dead-run', 'crashy', 'export', 'running', '2024-01-01')); "
            "os._exit(9)")
    died = subprocess.run([sys.executable, "-c", code, str(platform.home)], timeout=60)
    assert died.returncode == 9
    assert flows.run_record("dead-run").state == "running"
    deadline = threading.Event()
    deadline.wait(0.3)  # let the 0.2 s lease run out
    run = flows.run("crashy")
    assert run.state == "success"
    dead = flows.run_record("dead-run")
    assert dead.state == "failed" and "interrupted" in dead.error


def test_concurrent_runs_in_threads_never_overlap(flows: Dataflows, platform: Platform,
                                                  tmp_path: Path) -> None:
    flows.create("race", spec(tmp_path))
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            outcomes.append(Dataflows(platform).run("race").state)
        except DataflowBusyError:
            outcomes.append("busy")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = flows.runs("race")
    assert outcomes.count("success") == len(runs) >= 1
    intervals = sorted((r.started_at, r.finished_at) for r in runs)
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert end <= start  # one after another, never at once


def test_scheduler_runs_due_flows_until_stopped(flows: Dataflows, tmp_path: Path) -> None:
    flows.create("fast", spec(tmp_path), schedule="every 0.2s")
    count = flows.serve(poll_seconds=0.1, max_runs=3)
    assert count == 3
    runs = flows.runs("fast")
    assert len(runs) == 3 and {r.trigger for r in runs} == {"schedule"}
    assert all(r.state == "success" for r in runs)
