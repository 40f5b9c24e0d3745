"""`generate`: simulate users and write them through the platform's batch ingestion.

Four datasets receive one batch each per `batch_users` users: the ExperienceEvent and Individual
Profile datasets (profile-enabled, as in the reference) and the two ground-truth datasets, tagged
so that featurization skips them. Client batch ids are derived from everything that determines a
batch's rows, so re-running the same generation changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Protocol

import pyarrow as pa

from distillery.synth.batches import SimBatch, resolve_as_of, simulate
from distillery.synth.prefetch import prefetch
from distillery.synth.schemas import TRUTH_EVENTS, TRUTH_USERS

EVENTS = "experience_events"
PROFILES = "profiles"
TRUTH_EVENTS_DATASET = "synthetic_ground_truth_events"
TRUTH_USERS_DATASET = "synthetic_ground_truth_users"
# Featurization and EDA skip datasets carrying this tag unless asked for the ground truth.
GROUND_TRUTH_TAG = "ground_truth"

Progress = Callable[[int, int], None]


class _Platform(Protocol):
    """What `generate` needs of `distillery.platform.Platform`."""

    console: Any

    @property
    def tenant(self) -> str: ...

    def create_dataset(self, name: str, schema: Any, **options: Any) -> Any: ...

    def ingest(self, dataset: Any, *data: Any, **options: Any) -> Any: ...


@dataclass(frozen=True)
class DatasetWritten:
    """A dataset `generate` wrote to."""

    name: str
    id: str
    table_name: str
    batches: list[str]
    rows: int


@dataclass
class GenerateResult:
    """What a generation wrote.

    Attributes:
        users: Users simulated.
        events: ExperienceEvent rows (conversions included).
        converters: Users with a web.formFilledOut.
        as_of: The as-of time used (pass it again to reproduce the run).
        datasets: The datasets written, by role ("events", "profiles", "truth_events",
            "truth_users").
    """

    users: int = 0
    events: int = 0
    converters: int = 0
    as_of: datetime | None = None
    datasets: dict[str, DatasetWritten] = field(default_factory=dict)


def generate(platform: _Platform, users: int, seed: int, as_of: datetime | date | None = None,
             scenario: str = "reference", batch_users: int = 10_000, *,
             tenant: str | None = None, domain: str = "example.com", opt_out_share: float = 0.1,
             first_user: int = 0, truth: bool = True, prefetch_batches: int = 2,
             parallel: bool = True, progress: Progress | None = None) -> GenerateResult:
    """Simulate `users` users and ingest them batch by batch.

    Args:
        platform: The platform to write to.
        users: Number of users.
        seed: Non-negative seed.
        as_of: Reference time (see `Window.of`); None means today at 00:00 UTC.
        scenario: "reference" or "independent".
        batch_users: Users per ingestion batch.
        tenant: Tenant id; defaults to the platform's.
        domain: Email and web domain.
        opt_out_share: Share of users opted out of marketing.
        first_user: Index of the first user (to extend an earlier run).
        truth: Also write the ground-truth datasets.
        prefetch_batches: Batches built ahead in a background thread while the current one is
            ingested (0 builds and ingests in turn).
        parallel: Ingest the events dataset beside the other three rather than after them.
        progress: Called with (users done, users total) after each batch.

    Returns:
        Counts and the datasets written.
    """
    tenant = tenant or platform.tenant
    moment = resolve_as_of(as_of)
    run = dict(seed=seed, users=users, as_of=moment.isoformat(), scenario=scenario,
               batch_users=batch_users, tenant=tenant, domain=domain,
               opt_out_share=opt_out_share, first_user=first_user)
    writer = _Writer(platform, _datasets(platform, tenant, truth), run)
    result = GenerateResult(as_of=moment)
    batches = prefetch(simulate(users, seed, moment, scenario, batch_users, tenant, domain,
                                opt_out_share, first_user), prefetch_batches)
    with (closing(batches),
          platform.console.task(f"Generating {users:,} users", total=users) as task,
          ThreadPoolExecutor(max_workers=2 if parallel else 1,
                             thread_name_prefix="distillery-ingest") as pool):
        for batch in batches:
            writer.write(batch, pool)
            result.users += batch.users
            result.events += batch.events.num_rows
            result.converters += batch.converters
            task.advance(batch.users)
            if progress is not None:
                progress(result.users, users)
    result.datasets = writer.summary()
    return result


class _Writer:
    """Ingests each batch's tables into their datasets, recording batch ids and rows."""

    def __init__(self, platform: _Platform, targets: dict[str, Any], run: dict[str, Any]) -> None:
        self.platform, self.targets, self.run = platform, targets, run
        self.batches: dict[str, list[str]] = {role: [] for role in targets}
        self.rows: dict[str, int] = dict.fromkeys(targets, 0)

    def write(self, batch: SimBatch, pool: Executor) -> None:
        """Ingest one batch into every dataset; return when all are committed."""
        # Roles are named after the SimBatch table each dataset receives.
        tables = {role: getattr(batch, role) for role in self.targets}
        # The events dataset costs as much as the three others together: writing it beside
        # them keeps a second core busy. Each dataset still gets its batches in order.
        groups = [[r for r in tables if r == "events"], [r for r in tables if r != "events"]]
        futures = [pool.submit(self._ingest, batch.index, {r: tables[r] for r in group})
                   for group in groups if group]
        for future in futures:
            future.result()

    def _ingest(self, index: int, tables: dict[str, pa.Table]) -> None:
        for role, table in tables.items():
            bid = batch_id(self.run, index, self.targets[role].name)
            # Generated rows are valid by construction: a single rejected row is a bug, so it
            # fails the batch rather than being dropped under the default 5% threshold.
            self.platform.ingest(self.targets[role], table, batch_id=bid, error_threshold=0.0)
            self.batches[role].append(bid)
            self.rows[role] += table.num_rows

    def summary(self) -> dict[str, DatasetWritten]:
        """The datasets written so far."""
        return {role: DatasetWritten(ds.name, ds.id, ds.table_name, self.batches[role],
                                     self.rows[role])
                for role, ds in self.targets.items()}


def batch_id(run: dict[str, Any], index: int, dataset: str) -> str:
    """The client batch id of batch `index` into `dataset` for a run's parameters."""
    text = json.dumps({**run, "batch": index, "dataset": dataset}, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    return f"synth-{index:05d}-{digest}"


def _datasets(platform: _Platform, tenant: str, truth: bool) -> dict[str, Any]:
    from distillery.lake.xdm import experience_event_schema, profile_schema

    made = {
        "events": platform.create_dataset(
            EVENTS, experience_event_schema(tenant), profile_enabled=True, exist_ok=True,
            description="Synthetic experience events (the reference's Week 1 generator)."),
        "profiles": platform.create_dataset(
            PROFILES, profile_schema(tenant), profile_enabled=True, exist_ok=True,
            description="Synthetic individual profiles."),
    }
    if truth:
        tags = {GROUND_TRUTH_TAG: True, "featurize": False}
        made["truth_events"] = platform.create_dataset(
            TRUTH_EVENTS_DATASET, _adhoc(TRUTH_EVENTS, "Synthetic ground truth: events"),
            tags=tags, exist_ok=True,
            description="Latent subscriptionPropensity after every synthetic event.")
        made["truth_users"] = platform.create_dataset(
            TRUTH_USERS_DATASET, _adhoc(TRUTH_USERS, "Synthetic ground truth: users"),
            tags=tags, exist_ok=True,
            description="Whether and when every synthetic user converted.")
    return made


def _adhoc(arrow: pa.Schema, title: str) -> Any:
    """An ad-hoc lake schema whose Arrow form is exactly `arrow` (non-null fields required)."""
    from distillery.lake.schema import infer_schema

    inferred = infer_schema(arrow, title)
    group = inferred.field_groups[0]
    fields = tuple(replace(f, required=not arrow.field(f.name).nullable) for f in group.fields)
    return replace(inferred, field_groups=(replace(group, fields=fields),))
