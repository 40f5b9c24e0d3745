"""The step runner: finished steps are skipped, an interrupted run resumes, --force redoes."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillery.pipeline.runner import Runner, StepResult


def test_interrupted_run_resumes_and_force_redoes(tmp_path: Path) -> None:
    calls: list[str] = []
    fail = {"b": True}

    def step(name: str):
        def run(done: dict[str, StepResult]) -> StepResult:
            calls.append(name)
            if fail.get(name):
                raise RuntimeError(f"{name} interrupted")
            return StepResult(name, rows=len(done))
        return run

    steps = [(n, step(n)) for n in ("a", "b", "c")]
    record = tmp_path / "runs" / "loop.json"
    runner = Runner(record, {"users": 10})
    with pytest.raises(RuntimeError, match="b interrupted"):
        runner.run(steps)
    assert calls == ["a", "b"]

    fail["b"] = False
    results = runner.run(steps)
    assert calls == ["a", "b", "b", "c"]
    assert [(r.name, r.skipped) for r in results] == [("a", True), ("b", False), ("c", False)]

    runner.run(steps)
    assert calls == ["a", "b", "b", "c"]  # all done: nothing runs

    runner.run(steps, force=True)
    assert calls[-3:] == ["a", "b", "c"]


def test_other_parameters_start_afresh(tmp_path: Path) -> None:
    calls: list[str] = []

    def run(done: dict[str, StepResult]) -> StepResult:
        calls.append("a")
        return StepResult("a")

    record = tmp_path / "loop.json"
    Runner(record, {"users": 10}).run([("a", run)])
    Runner(record, {"users": 20}).run([("a", run)])
    assert calls == ["a", "a"]


def test_steps_record_their_processor_time(tmp_path: Path) -> None:
    def busy(done: dict[str, StepResult]) -> StepResult:
        sum(i * i for i in range(200_000))  # some work for the processor clock to see
        return StepResult("busy")

    record = tmp_path / "loop.json"
    [result] = Runner(record, {"users": 10}).run([("busy", busy)])
    assert result.cpu_seconds > 0 and result.seconds > 0
    [again] = Runner(record, {"users": 10}).run([("busy", busy)])
    assert again.skipped and again.cpu_seconds == result.cpu_seconds  # kept in the record
