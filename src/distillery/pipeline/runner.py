"""Run a sequence of named steps with resume: each finished step is recorded in the sandbox,
so a re-run skips it (unless forced) and an interrupted run picks up where it stopped.

The record lives at `{sandbox}/runs/{pipeline}.json` and holds the run's parameters; a run with
other parameters starts afresh, because its earlier results no longer apply.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distillery.console import Console, SilentConsole


@dataclass
class StepResult:
    """What one step did: rows handled, seconds taken and anything worth reporting.

    `cpu_seconds` is the processor time of the whole process (every thread) during the step:
    on a machine shared with other work, wall time grows with the load and this far less.
    """

    name: str
    rows: int = 0
    seconds: float = 0.0
    outputs: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    cpu_seconds: float = 0.0


Step = Callable[[dict[str, StepResult]], StepResult]


@dataclass
class Runner:
    """Runs steps in order, recording each result in `record_path`."""

    record_path: Path
    params: dict[str, Any]
    console: Console = field(default_factory=SilentConsole)

    def run(self, steps: list[tuple[str, Step]], force: bool = False) -> list[StepResult]:
        """Run every step not yet finished for these parameters (all of them with `force`)."""
        done = {} if force else self._load()
        results: dict[str, StepResult] = {}
        for name, step in steps:
            if name in done:
                results[name] = StepResult(**{**done[name], "skipped": True})
                self.console.note(f"{name}: done earlier, skipped (use --force to redo)")
                continue
            started, cpu = time.perf_counter(), time.process_time()
            result = step(results)
            result.seconds = round(time.perf_counter() - started, 3)
            result.cpu_seconds = round(time.process_time() - cpu, 3)
            results[name] = result
            done[name] = asdict(result) | {"skipped": False}
            self._save(done)
        return list(results.values())

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.record_path.exists():
            return {}
        record = json.loads(self.record_path.read_text())
        if record.get("params") != self.params:
            return {}
        return record.get("steps", {})

    def _save(self, steps: dict[str, dict[str, Any]]) -> None:
        self.record_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.record_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"params": self.params, "steps": steps}, indent=2,
                                  default=str))
        os.replace(tmp, self.record_path)  # atomic: a kill never leaves half a record
