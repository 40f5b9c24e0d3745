"""Evaluation jobs: who qualifies now, against who qualified at the previous evaluation.

A job goes NEW -> QUEUED -> PROCESSING -> SUCCEEDED or FAILED. One SQL statement (a SQLGlot
tree, compiled for the engine) computes the new membership and its status per person with a
full outer join against the previous job's members; its rows stream into the membership
dataset as one batch, so a failed job leaves the previous membership as it was.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from distillery.audiences import members
from distillery.audiences.compile import NOW, placeholders
from distillery.audiences.definitions import members_query
from distillery.audiences.errors import EvaluationError
from distillery.audiences.locks import exclusive
from distillery.audiences.store import AudienceRecord, AudienceStore, JobRecord
from distillery.errors import DistilleryError
from distillery.lake.catalog import now_iso

if TYPE_CHECKING:
    from distillery.platform import Platform


def evaluate(platform: Platform, audience: AudienceRecord, *, trigger: str = "manual",
             as_of: datetime | None = None) -> JobRecord:
    """Run one evaluation job of an audience and return it (SUCCEEDED).

    Args:
        platform: The sandbox.
        audience: The audience to evaluate.
        trigger: Why it runs: manual, schedule or sql.
        as_of: The moment relative time in the rule is measured from (default: now).

    Raises:
        EvaluationError: the job failed (it is recorded as FAILED with the reason).
    """
    store = AudienceStore(platform.catalog)
    job = store.add_job(f"job-{uuid.uuid4().hex[:20]}", audience, trigger, now_iso())
    store.update_job(job, state="QUEUED")
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    try:
        with exclusive(platform.root, f"audience-{audience.id}"):
            store.update_job(job, state="PROCESSING", started_at=now_iso(),
                             as_of=moment.isoformat())
            started = time.perf_counter()
            with platform.console.task(f"evaluate audience {audience.name}", total=1) as task:
                counts = _run(platform, store, audience, job, moment)
                task.advance(1)
    except Exception as exc:
        store.update_job(job, state="FAILED", finished_at=now_iso(), error=str(exc)[:2000])
        if isinstance(exc, DistilleryError):
            raise
        raise EvaluationError(f"evaluation of audience {audience.name!r} failed: "
                              f"{type(exc).__name__}: {exc}") from exc
    qualified = counts.get("realized", 0) + counts.get("existing", 0)
    return store.update_job(job, state="SUCCEEDED", finished_at=now_iso(),
                            duration_s=round(time.perf_counter() - started, 3),
                            qualified=qualified, realized=counts.get("realized", 0),
                            existing=counts.get("existing", 0), exited=counts.get("exited", 0))


def _run(platform: Platform, store: AudienceStore, audience: AudienceRecord, job: JobRecord,
         moment: datetime) -> dict[str, int]:
    members.dataset(platform)
    previous = store.last_succeeded(audience.id)
    store.update_job(job, previous=previous.number if previous else None)
    tree = diff_query(platform, audience)
    values = {"audience_id": audience.id, "audience": audience.name, "job": job.number,
              "job_id": job.id, "namespace": audience.namespace, "evaluated_at": moment,
              "previous": previous.number if previous else -1, NOW: moment}
    params = {k: v for k, v in values.items() if k in placeholders(tree)}
    result = platform.sql.select(platform.sql.session(), tree, params)
    counts: dict[str, int] = {}
    reader = result.reader()
    # Count while the rows stream into the dataset: the write is the job's last step, so
    # a job with rows in the dataset is a job that succeeded.
    platform.lake.write(members.MEMBERSHIPS,
                        pa.RecordBatchReader.from_batches(reader.schema, _counted(reader, counts)),
                        schema=members.SCHEMA, batch_id=f"audience-{job.id}",
                        error_threshold=0.0)
    return counts


def _counted(reader: pa.RecordBatchReader, counts: dict[str, int]) -> Iterator[pa.RecordBatch]:
    for batch in reader:
        for item in pc.value_counts(batch.column("status")).to_pylist():
            counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
        yield batch


def diff_query(platform: Platform, audience: AudienceRecord) -> exp.Select:
    """The new membership rows: members now, with their status against the previous job."""
    now_members, _ = members_query(platform, audience)
    before = members.of_job("previous")
    status = (exp.Case()
              .when(exp.Is(this=exp.column("person_id", "o"), expression=exp.Null()),
                    exp.Literal.string("realized"))
              .when(exp.Is(this=exp.column("person_id", "n"), expression=exp.Null()),
                    exp.Literal.string("exited"))
              .else_(exp.Literal.string("existing")))
    person = exp.Coalesce(this=exp.column("person_id", "n"),
                          expressions=[exp.column("person_id", "o")])
    select = exp.select(
        exp.alias_(exp.Placeholder(this="audience_id"), "audience_id"),
        exp.alias_(exp.Placeholder(this="audience"), "audience"),
        exp.alias_(exp.cast(exp.Placeholder(this="job"), "bigint"), "job"),
        exp.alias_(exp.Placeholder(this="job_id"), "job_id"),
        exp.alias_(person, members.ID),
        exp.alias_(exp.Placeholder(this="namespace"), "namespace"),
        exp.alias_(status, "status"),
        exp.alias_(exp.Placeholder(this="evaluated_at"), "evaluated_at"),
    )
    join = exp.Join(this=exp.alias_(exp.Subquery(this=before), "o", table=True), side="FULL",
                    kind="OUTER", on=exp.EQ(this=exp.column("person_id", "n"),
                                            expression=exp.column("person_id", "o")))
    return (select.from_(exp.alias_(exp.Subquery(this=now_members), "n", table=True))
            .join(join))
