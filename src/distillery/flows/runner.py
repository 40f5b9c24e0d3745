"""Running dataflows: one run at a time per dataflow, recorded with its outcome.

A run takes the dataflow's lease (a row in the catalog with an expiry, renewed by a heartbeat
while the run lasts), so two processes (a cron `run-due`, a `scheduler`, a person typing
`flows run`) never run the same dataflow at once; a process that dies lets its lease expire,
and the next run marks the run it left behind as failed. A run's failure is recorded with its
error (secrets masked) and the schedule tries again at the next due time.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from distillery.errors import AlreadyExistsError, ConfigError, DistilleryError
from distillery.flows import schedule as sched
from distillery.flows.export import export_dataset, export_time_of
from distillery.flows.source import run_source
from distillery.flows.specs import ExportSpec, SourceSpec, Spec
from distillery.flows.storage import Storage, open_storage, redact
from distillery.flows.store import FlowStore, RunRecord
from distillery.lake.catalog import now_iso

if TYPE_CHECKING:
    from distillery.platform import Platform

LEASE_SECONDS = 60.0
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_MAX_ERROR = 4000


class DataflowBusyError(DistilleryError, RuntimeError):
    """The dataflow is running in another process (or thread) right now."""

    retryable = True


def new_run_id(kind: str) -> str:
    """A fresh run id: kind, UTC time, random suffix."""
    return f"{kind}-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"


def check_run_id(run_id: str) -> str:
    """Run ids name export manifests and batches: letters, digits and `_.:-`."""
    if not _RUN_ID.match(run_id):
        raise ConfigError(f"run id {run_id!r} is invalid: use 1-128 letters, digits, '_', "
                          "'.', ':' or '-', starting with a letter or digit")
    return run_id


def execute(platform: Platform, spec: Spec, *, dataflow: str | None = None,
            run_id: str | None = None, trigger: str = "manual",
            state: dict[str, Any] | None = None,
            lease_seconds: float = LEASE_SECONDS) -> RunRecord:
    """Run a spec once under a lease and record the run; return the record.

    A run id that already succeeded returns its record and does nothing. A failure of the
    run itself is recorded (state `failed`, with its error) and returned, not raised.

    Raises:
        DataflowBusyError: another run of the dataflow holds its lease.
    """
    store = FlowStore(platform.catalog)
    rid = check_run_id(run_id) if run_id else new_run_id(spec.kind)
    existing = store.find_run(rid)
    if existing is not None:
        if existing.dataflow != dataflow:
            raise AlreadyExistsError(f"run id {rid!r} belongs to "
                                     f"{existing.dataflow or 'an unsaved export'}")
        if existing.state == "success":
            return existing
    key = dataflow or f"run:{rid}"
    owner = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    if not store.acquire(key, rid, owner, lease_seconds):
        held = store.lease(key) or {}
        raise DataflowBusyError(f"dataflow {dataflow or rid!r} is running already (run "
                                f"{held.get('run_id')}, {held.get('owner')}); runs never "
                                "overlap, try again when it has finished")
    try:
        if dataflow is not None:
            store.fail_stale_runs(dataflow, rid, "interrupted: the process running it "
                                  "stopped before it finished")
        rec = RunRecord(rid, dataflow, spec.kind, "running", now_iso(), trigger,
                        details=dict(existing.details) if existing else {})
        store.start_run(rec)
        with _Heartbeat(store, key, rid, lease_seconds):
            _run_recorded(platform, spec, rec, state or {})
        store.finish_run(rec)
        if dataflow is not None and rec.state == "success":
            _remember(store, dataflow, spec, rec)
    finally:
        store.release(key, rid)
    return rec


def _run_recorded(platform: Platform, spec: Spec, rec: RunRecord,
                  state: dict[str, Any]) -> None:
    started = time.perf_counter()
    storage: Storage | None = None
    try:
        storage = open_storage(spec.url, home=platform.home, connection=spec.connection)
        if isinstance(spec, ExportSpec):
            _export(platform, spec, rec, state, storage)
        else:
            _source(platform, spec, rec, storage)
    except BaseException as exc:
        rec.state = "failed"
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        rec.error = (storage.redact(text) if storage else redact(text))[:_MAX_ERROR]
        if not isinstance(exc, Exception):
            rec.finished_at, rec.duration_s = now_iso(), time.perf_counter() - started
            FlowStore(platform.catalog).finish_run(rec)
            raise
    rec.finished_at = now_iso()
    rec.duration_s = round(time.perf_counter() - started, 6)


def _export(platform: Platform, spec: ExportSpec, rec: RunRecord, state: dict[str, Any],
            storage: Storage) -> None:
    ds = platform.dataset(spec.dataset)
    plan = rec.details
    if "export_time" not in plan:
        # Fixed on the first attempt, so a retried run id writes the same folder and rows.
        plan.update(export_time=export_time_of(), snapshot=ds.version, dataset_id=ds.id,
                    since=state.get("last_snapshot") if spec.incremental else None)
        FlowStore(platform.catalog).start_run(rec)
    since = plan["since"]
    if since is not None and since >= plan["snapshot"]:
        rec.state = "success"
        plan["message"] = f"nothing new since snapshot {since}"
        return
    def claimed(export_time: str) -> None:
        plan["export_time"] = export_time
        FlowStore(platform.catalog).start_run(rec)

    result = export_dataset(platform, ds, spec.url, run_id=rec.id,
                            export_time=plan["export_time"], snapshot=plan["snapshot"],
                            since=since, fmt=spec.format, compression=spec.compression,
                            rows_per_file=spec.rows_per_file, storage=storage,
                            on_claim=claimed)
    rec.state = "success"
    rec.rows, rec.bytes, rec.files = result.rows, result.bytes, len(result.files)
    plan.update(folder=result.url, export_time=result.export_time, format=result.format,
                compression=result.compression, reused=result.reused,
                parts=[asdict(f) for f in result.files])


def _source(platform: Platform, spec: SourceSpec, rec: RunRecord, storage: Storage) -> None:
    assert rec.dataflow is not None
    outcome = run_source(platform, spec, dataflow=rec.dataflow, run_id=rec.id,
                         store=FlowStore(platform.catalog), storage=storage)
    rec.rows, rec.bytes, rec.files = outcome.rows, outcome.bytes, outcome.loaded
    rec.details = outcome.details()
    failed = [f for f in outcome.files if f.state == "failed"]
    rec.state = "failed" if failed else "success"
    if failed:
        rec.error = (f"{len(failed)} file(s) failed: "
                     + "; ".join(f"{f.url}: {f.message}" for f in failed))[:_MAX_ERROR]


def _remember(store: FlowStore, dataflow: str, spec: Spec, rec: RunRecord) -> None:
    if isinstance(spec, ExportSpec):
        flow = store.dataflow(dataflow)
        state = dict(flow.state)
        state["last_snapshot"] = rec.details.get("snapshot")
        if rec.details.get("folder"):
            state["last_export"] = rec.details["folder"]
        store.update_dataflow(dataflow, state=state)


class _Heartbeat:
    """Renews a lease from a thread while a run lasts."""

    def __init__(self, store: FlowStore, key: str, run_id: str, seconds: float) -> None:
        self.store, self.key, self.run_id, self.seconds = store, key, run_id, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{key}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            self.store.renew(self.key, self.run_id, self.seconds)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def next_run(schedule: str | None, after: datetime) -> str | None:
    """The next due time (ISO text) of a schedule after a moment; None without schedule."""
    return sched.next_after(schedule, after).isoformat() if schedule else None
