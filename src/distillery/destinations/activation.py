"""Activation: send an audience's current members to a destination, governed and recorded.

    run = activate(platform, "likely", to="crm-drop")          # or dry_run=True
    run.state, run.entered, run.exited, run.updated, run.sent, run.rejected

Order of a run: the audience's current evaluation (refused when missing or past its TTL) ->
the plan (identities, attributes, consent) -> data-usage labels against the destination's
purposes (refused, naming label and field) -> the change set against what the destination
was last sent -> delivery in batches -> the sent state -> the run record. A dry run stops
before delivery and records the counts.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from distillery.audiences import Audiences
from distillery.audiences.errors import AudienceError
from distillery.audiences.locks import exclusive
from distillery.audiences.store import AudienceRecord
from distillery.destinations import changes as change_sets
from distillery.destinations import governance
from distillery.destinations import plan as plans
from distillery.destinations.base import (
    PERSON,
    REJECTIONS,
    STATUS_COLUMN,
    ActivationContext,
    AudienceMapping,
    Destination,
    DestinationError,
)
from distillery.destinations.registry import Destinations
from distillery.destinations.runs import ActivationRun, RunStore
from distillery.destinations.state import SentState
from distillery.lake.catalog import now_iso
from distillery.lake.labels import GovernanceError

if TYPE_CHECKING:
    from distillery.platform import Platform

MAX_FAILED_BATCHES = 3  # consecutive undelivered batches before a run stops trying
_LISTED = 50  # rejected ids and batches kept in a run record


def activate(platform: Platform, audience: str, to: str | Destination, *,
             dry_run: bool = False, identities: list[str] | None = None,
             attributes: list[str] | None = None, mode: str | None = None) -> ActivationRun:
    """Activate an audience to a destination (see module docs).

    Args:
        platform: The sandbox.
        audience: Audience name or id.
        to: A configured destination's name, or a Destination (e.g. one made by
            `@destination`).
        dry_run: Count who would enter, exit and be updated; send nothing.
        identities: Override the destination's identities for this run.
        attributes: Override the destination's attributes for this run.
        mode: Override the export mode (full or incremental) of a file destination.

    Returns:
        The run record: succeeded, or partial (rejected or undelivered records go again on
        the next run).

    Raises:
        GovernanceError: consent cannot be checked or a label forbids the activation.
        AudienceError: the audience was never evaluated or its membership expired.
        DestinationError: nothing could be delivered (the run is recorded as failed).
    """
    audiences = Audiences(platform)
    rec = audiences.get(audience)
    dest = to if isinstance(to, Destination) else Destinations(platform).get(to)
    mapping = _mapping(dest, rec.name, identities, attributes, mode)
    run = ActivationRun(id=f"act-{uuid.uuid4().hex[:20]}", destination=dest.name,
                        audience_id=rec.id, audience=rec.name, state="running",
                        started_at=now_iso(), dry_run=dry_run)
    store = RunStore(platform.catalog)
    store.start(run)
    started = time.perf_counter()
    try:
        with exclusive(platform.root, f"activation-{dest.name}-{rec.id}"):
            _run(platform, audiences, rec, dest, mapping, run)
    except (GovernanceError, AudienceError) as exc:
        _finish(store, run, started, "refused", str(exc))
        raise
    except Exception as exc:
        _finish(store, run, started, "failed", f"{type(exc).__name__}: {exc}")
        raise
    _finish(store, run, started, run.state, run.error)
    if run.state == "failed":
        raise DestinationError(f"activation of {rec.name!r} to {dest.name!r} delivered nothing: "
                               f"{run.error} (run {run.id})")
    return run


def _mapping(dest: Destination, audience: str, identities: list[str] | None,
             attributes: list[str] | None, mode: str | None) -> AudienceMapping:
    mapping = dest.mapping_for(audience)
    update: dict[str, Any] = {}
    if identities is not None:
        update["identities"] = identities
    if attributes is not None:
        update["attributes"] = attributes
    if mode is not None:
        update["export_mode"] = mode
    checked = AudienceMapping.model_validate({**mapping.model_dump(), **update})
    if checked.export_mode and checked.export_mode not in dest.capabilities.export_modes:
        from distillery.errors import ConfigError

        raise ConfigError(f"destination {dest.name!r} ({dest.type_name}) does not support export "
                          f"mode {checked.export_mode!r}; it supports "
                          f"{list(dest.capabilities.export_modes)}")
    return checked


def _run(platform: Platform, audiences: Audiences, rec: AudienceRecord, dest: Destination,
         mapping: AudienceMapping, run: ActivationRun) -> None:
    job = audiences.current_job(rec.name)
    run.job = job.number
    plan = plans.build(platform, rec, job, dest, mapping)
    violations = governance.label_violations(platform, rec, dest.purposes(), plan.uses)
    if violations:
        run.details["violations"] = [v.message() for v in violations]
        governance.refuse(violations, dest.name)
    current = plans.current_rows(platform, plan)
    state = SentState(platform.root, dest.name, rec.id)
    run.mode = _mode(dest, mapping, state)
    found = change_sets.diff(current, state.read())
    for key, value in found.counts().items():
        setattr(run, key, value)
    rows = change_sets.outgoing(found, run.mode, rec.namespace, plan.columns,
                                ordered=not dest.capabilities.delivers_on_close)
    if dest.capabilities.rejects_records:
        rows = rows.join(state.rejections().rename({"rejections": REJECTIONS}), on=PERSON,
                         how="left").with_columns(pl.col(REJECTIONS).fill_null(0))
    run.details.update({"purposes": dest.purposes(), "columns": plan.columns,
                        "to_send": rows.height})
    if run.dry_run:
        run.state = "succeeded"
        return
    context = ActivationContext(run.id, dest.name, rec, run.mode, datetime.now(UTC),
                                platform.home, platform.root, platform.console,
                                plan.identity_columns, plan.attribute_columns,
                                found.counts())
    _deliver(dest, context, rows, plan.columns, state, found, run)


def _mode(dest: Destination, mapping: AudienceMapping, state: SentState) -> str:
    if dest.capabilities.changes_only:
        return "changes"
    mode = mapping.export_mode or dest.capabilities.export_modes[0]
    # First full, then incremental: the first run (nothing delivered yet) is a full export.
    return "full" if mode == "incremental" and state.is_empty() else mode


def _deliver(dest: Destination, context: ActivationContext, rows: pl.DataFrame,
             columns: list[str], state: SentState, found: change_sets.ChangeSet,
             run: ActivationRun) -> None:
    caps = dest.capabilities
    size = dest.spec.batch_size
    delivered: list[pl.DataFrame] = []
    rejected: dict[str, str] = {}
    batches: list[dict[str, Any]] = []
    failed = streak = 0
    with _progress(context, dest, rows.height) as task, dest.client(context) as client:
        for offset in range(0, rows.height, size):
            if streak >= MAX_FAILED_BATCHES:
                run.details["not_attempted"] = rows.height - offset
                break
            chunk = rows.slice(offset, size)
            outcome = client.send(_arrow(chunk, columns, caps.rejects_records))
            batches.append({"records": chunk.height, "rejected": len(outcome.rejected),
                            "failed": outcome.failed, **outcome.details})
            task.advance(chunk.height)
            if outcome.failed:
                failed, streak = failed + 1, streak + 1
                continue
            streak = 0
            rejected.update(outcome.rejected)
            state.reject(list(outcome.rejected), run.id)
            accepted = chunk.filter(~pl.col(PERSON).is_in(list(outcome.rejected)))
            if caps.delivers_on_close:
                delivered.append(accepted)
            else:
                state.append(_state_rows(accepted), run.id)
            run.sent += accepted.height
        run.details["delivery"] = client.close(True)
    _record_state(state, found, delivered, run, caps.delivers_on_close)
    _outcome(run, rejected, failed, batches)


def _record_state(state: SentState, found: change_sets.ChangeSet, delivered: list[pl.DataFrame],
                  run: ActivationRun, on_close: bool) -> None:
    if not on_close:
        state.compact(run.id)
    elif run.mode == "full":
        state.replace(found.members(), run.id)
    elif delivered:
        state.append(_state_rows(pl.concat(delivered)), run.id)


def _outcome(run: ActivationRun, rejected: dict[str, str], failed: int,
             batches: list[dict[str, Any]]) -> None:
    run.rejected = len(rejected)
    run.details["batches"] = batches[:_LISTED]
    run.details["batch_count"] = len(batches)
    run.details["failed_batches"] = failed
    if rejected:
        run.details["rejected_sample"] = dict(list(rejected.items())[:_LISTED])
    if failed or rejected or run.details.get("not_attempted"):
        run.state = "partial" if run.sent else "failed"
        run.error = (f"{len(rejected)} record(s) rejected, {failed} batch(es) undelivered; "
                     "they are sent again on the next run")
    else:
        run.state = "succeeded"


def _state_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(PERSON, pl.col(plans.FINGERPRINT).alias("fingerprint"),
                        pl.col(change_sets.STATE_STATUS).alias("status"))


def _arrow(chunk: pl.DataFrame, columns: list[str], hidden: bool) -> pa.RecordBatch:
    wanted = [*columns, STATUS_COLUMN, *([REJECTIONS] if hidden else [])]
    table = chunk.select(wanted).to_arrow().combine_chunks()
    batches = table.to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)


def _progress(context: ActivationContext, dest: Destination, total: int) -> Any:
    """A progress task on the run's console."""
    return context.console.task(f"activate {context.audience.name} to {dest.name}", total=total)


def _finish(store: RunStore, run: ActivationRun, started: float, state: str,
            error: str | None) -> None:
    run.state = state
    run.error = error
    run.finished_at = now_iso()
    run.duration_s = round(time.perf_counter() - started, 3)
    store.finish(run)
