"""`Dataflows`: saved dataflows of a sandbox (create, list, show, delete, run), their run
history, one-off exports, and the schedule driver (`run_due`, `serve`).

    flows = Dataflows(platform)
    flows.create("train-export", ExportSpec(dataset="training", url="az://dlz/cmle/egress"),
                 schedule="every 15m")
    flows.run("train-export")          # a RunRecord: state, duration, rows, bytes, files
    flows.run_due()                     # what cron or CI calls
"""

from __future__ import annotations

import builtins
import re
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from distillery.errors import ConfigError
from distillery.flows import runner
from distillery.flows import schedule as sched
from distillery.flows.specs import ExportSpec, Spec, parse_spec
from distillery.flows.store import DataflowRecord, FlowStore, RunRecord

if TYPE_CHECKING:
    from distillery.platform import Platform

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class Dataflows:
    """The dataflows of one sandbox."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.store = FlowStore(platform.catalog)

    # Definitions -----------------------------------------------------------------------------

    def create(self, name: str, spec: Spec | dict[str, Any], *, schedule: str | None = None,
               enabled: bool = True) -> DataflowRecord:
        """Save a dataflow. Its dataset must exist; an interval schedule is due at once, a
        cron schedule at its next time."""
        if not _NAME.match(name):
            raise ConfigError(f"dataflow name {name!r} is invalid: use 1-128 letters, digits, "
                              "'_', '.' or '-', starting with a letter or digit")
        checked = spec if not isinstance(spec, dict) else parse_spec(spec, f"dataflow {name!r}")
        self.platform.dataset(checked.dataset)
        when = sched.check(schedule) if schedule else None
        return self.store.add_dataflow(DataflowRecord(
            name, checked.kind, checked.model_dump(), when, enabled, _first_due(when)))

    def get(self, name: str) -> DataflowRecord:
        """A dataflow by name."""
        return self.store.dataflow(name)

    def spec(self, name: str) -> Spec:
        """A dataflow's spec."""
        return parse_spec(self.get(name).spec, f"dataflow {name!r}")

    def list(self) -> builtins.list[DataflowRecord]:
        """Every dataflow of the sandbox."""
        return self.store.dataflows()

    def update(self, name: str, *, schedule: str | None = None, clear_schedule: bool = False,
               enabled: bool | None = None) -> DataflowRecord:
        """Change a dataflow's schedule or enabled flag."""
        flow = self.get(name)
        values: dict[str, Any] = {}
        if schedule is not None or clear_schedule:
            when = sched.check(schedule) if schedule and not clear_schedule else None
            values.update(schedule=when, next_run_at=_first_due(when))
        if enabled is not None:
            values["enabled"] = int(enabled)
        if values:
            self.store.update_dataflow(flow.name, **values)
        return self.get(name)

    def delete(self, name: str) -> DataflowRecord:
        """Delete a dataflow and its run history (files it wrote or ingested stay)."""
        flow = self.get(name)
        self.store.remove_dataflow(name)
        return flow

    # Runs ------------------------------------------------------------------------------------

    def run(self, name: str, *, run_id: str | None = None, trigger: str = "manual",
            lease_seconds: float = runner.LEASE_SECONDS) -> RunRecord:
        """Run a dataflow now and return its run record (state success or failed).

        Raises:
            DataflowBusyError: it is running elsewhere right now.
        """
        flow = self.get(name)
        spec = parse_spec(flow.spec, f"dataflow {name!r}")
        started = sched.now()
        rec = runner.execute(self.platform, spec, dataflow=name, run_id=run_id,
                             trigger=trigger, state=flow.state, lease_seconds=lease_seconds)
        if flow.schedule:
            self.store.update_dataflow(name, next_run_at=runner.next_run(flow.schedule,
                                                                         started))
        return rec

    def export(self, dataset: str, url: str, *, run_id: str | None = None,
               **options: Any) -> RunRecord:
        """Export a dataset once without saving a dataflow (recorded in the run history).

        `options` are those of `ExportSpec`: connection, format, compression, rows_per_file.
        """
        self.platform.dataset(dataset)  # an unknown dataset is bad input, not a failed run
        spec = parse_spec({"kind": "export", "dataset": dataset, "url": url, **options},
                          "export")
        assert isinstance(spec, ExportSpec)
        return runner.execute(self.platform, spec, run_id=run_id)

    def runs(self, name: str | None = None, limit: int | None = 20) -> builtins.list[RunRecord]:
        """Run history, newest first (of one dataflow, or of all runs)."""
        if name is not None:
            self.get(name)
        return self.store.runs(name, limit)

    def run_record(self, run_id: str) -> RunRecord:
        """One run by id."""
        return self.store.run(run_id)

    # Schedules -------------------------------------------------------------------------------

    def due(self, now: datetime | None = None) -> builtins.list[DataflowRecord]:
        """Enabled, scheduled dataflows whose next run time has come."""
        moment = now or sched.now()
        return [f for f in self.list() if f.enabled and f.schedule and f.next_run_at
                and datetime.fromisoformat(f.next_run_at) <= moment]

    def run_due(self, now: datetime | None = None) -> builtins.list[RunRecord]:
        """Run every due dataflow once (what cron or CI calls). A dataflow running elsewhere
        is left alone; failures are recorded and due again at the next time."""
        done = []
        for flow in self.due(now):
            try:
                done.append(self.run(flow.name, trigger="schedule"))
            except runner.DataflowBusyError as exc:
                self.platform.console.note(f"skipped {flow.name}: {exc}")
        return done

    def serve(self, *, poll_seconds: float = 5.0, stop: threading.Event | None = None,
              max_runs: int | None = None) -> int:
        """Run due dataflows until `stop` is set (or `max_runs` runs happened); return the
        number of runs. Sleeps until the next due time, checking at least every
        `poll_seconds` for new or changed dataflows."""
        stop = stop or threading.Event()
        count = 0
        while not stop.is_set():
            count += len(self.run_due())
            if max_runs is not None and count >= max_runs:
                break
            stop.wait(self._sleep(poll_seconds))
        return count

    def _sleep(self, poll_seconds: float) -> float:
        upcoming = [datetime.fromisoformat(f.next_run_at) for f in self.list()
                    if f.enabled and f.schedule and f.next_run_at]
        if not upcoming:
            return poll_seconds
        gap = (min(upcoming) - sched.now()).total_seconds()
        return max(0.05, min(poll_seconds, gap))


def _first_due(schedule: str | None) -> str | None:
    if not schedule:
        return None
    now = sched.now()
    return now.isoformat() if sched.interval(schedule) else \
        sched.next_after(schedule, now).isoformat()
