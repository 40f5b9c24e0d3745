"""`simulate`: the reference's users as Arrow batches, streamed, with no I/O."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import numpy as np
import pyarrow as pa

from distillery.synth import cohort, spec
from distillery.synth.cohort import BLOCK_USERS, Cohort
from distillery.synth.identity import ecid_and_hash, emails
from distillery.synth.payload import UserIds, event_columns
from distillery.synth.profiles import profile_columns
from distillery.synth.schemas import (
    TIMESTAMP,
    TRUTH_EVENTS,
    TRUTH_USERS,
    conform,
    event_schema,
    profile_schema,
)


@dataclass(frozen=True)
class SimBatch:
    """One batch of simulated users.

    Attributes:
        index: Position of the batch in the run (0, 1, ...).
        first_user: Absolute index of the batch's first user.
        users: Number of users in the batch.
        events: ExperienceEvent rows, by user then time.
        profiles: Individual Profile rows, one per user.
        truth_events: Ground truth per event (_id, userid, timestamp, eventType,
            subscriptionPropensity).
        truth_users: Ground truth per user (userid, user_index, converted, converted_at).
    """

    index: int
    first_user: int
    users: int
    events: pa.Table
    profiles: pa.Table
    truth_events: pa.Table
    truth_users: pa.Table

    @property
    def converters(self) -> int:
        """Users of the batch who converted."""
        return int(np.count_nonzero(self.truth_users["converted"].to_numpy()))


@dataclass(frozen=True)
class Window:
    """The 10-week window the events fall in (children may spill past its end)."""

    as_of: datetime
    start: datetime
    end: datetime

    @staticmethod
    def of(as_of: datetime | date | None) -> Window:
        """The window ending two weeks before `as_of`.

        Args:
            as_of: The run's reference time. None means today at 00:00 UTC, so that runs on the
                same day give the same rows; a date means 00:00 UTC that day; a naive datetime
                is taken as UTC.
        """
        moment = resolve_as_of(as_of)
        end = moment - spec.WINDOW_LAG
        return Window(as_of=moment, start=end - spec.WINDOW, end=end)

    @property
    def start_us(self) -> int:
        """Microseconds since the epoch of the window's start."""
        return int(pa.scalar(self.start, type=TIMESTAMP).value)


def resolve_as_of(as_of: datetime | date | None) -> datetime:
    """The as-of time as an aware UTC datetime (see `Window.of`)."""
    if as_of is None:
        as_of = datetime.now(UTC).date()
    if not isinstance(as_of, datetime):
        return datetime.combine(as_of, time(0), tzinfo=UTC)
    if as_of.tzinfo is None:
        return as_of.replace(tzinfo=UTC)
    return as_of.astimezone(UTC)


def simulate(users: int, seed: int, as_of: datetime | date | None = None,
             scenario: str = "reference", batch_users: int = 10_000, tenant: str = "tenant",
             domain: str = "example.com", opt_out_share: float = 0.1,
             first_user: int = 0) -> Iterator[SimBatch]:
    """Simulate the reference's users, batch by batch.

    The same seed, users and as-of give identical rows whatever `batch_users` (see cohort.py).

    Args:
        users: Number of users to simulate.
        seed: Non-negative seed.
        as_of: Reference time; the 10-week window ends two weeks before it (see `Window.of`).
        scenario: "reference" (the reference's child replacement) or "independent" (every
            parent occurrence keeps its children).
        batch_users: Users per batch.
        tenant: Tenant id; the tenant column is `_{tenant}`.
        domain: Email domain of `synthetic-user-{id}@{domain}` and of the web pages.
        opt_out_share: Share of users opted out of marketing in their profile's consents.
        first_user: Index of the first user (to extend an earlier run).

    Yields:
        One `SimBatch` per `batch_users` users (the last may be smaller).
    """
    _check(users, seed, batch_users, opt_out_share, first_user, tenant)
    spec.check_scenario(scenario)
    window = Window.of(as_of)
    batches = _cohorts(seed, first_user, users, batch_users, scenario)
    for index, group in enumerate(batches):
        yield build_batch(index, group, window, tenant, domain, opt_out_share)


def build_batch(index: int, group: Cohort, window: Window, tenant: str, domain: str,
                opt_out_share: float) -> SimBatch:
    """Turn a cohort into the batch's four Arrow tables."""
    mails = emails(group.user_index, domain)
    ecids, hashed = ecid_and_hash(mails)
    ids = UserIds(ecids, mails, hashed)
    columns = event_columns(group, ids, window.start_us, tenant, domain)
    events = conform(columns, event_schema(tenant), group.events)
    profiles = conform(profile_columns(group, ids, window.as_of.date(), tenant, opt_out_share),
                       profile_schema(tenant), group.users)
    truth_events = pa.Table.from_arrays(
        [columns["_id"], columns[f"_{tenant}"].field("userid"), columns["timestamp"],
         columns["eventType"], pa.array(group.propensity)],
        schema=TRUTH_EVENTS)
    converted = group.converted_at >= 0
    truth_users = pa.Table.from_arrays(
        [ecids, pa.array(group.user_index), pa.array(converted),
         pa.array(group.converted_at + window.start_us, type=TIMESTAMP, mask=~converted)],
        schema=TRUTH_USERS)
    return SimBatch(index, int(group.user_index[0]) if group.users else 0, group.users, events,
                    profiles, truth_events, truth_users)


def _cohorts(seed: int, first_user: int, users: int, batch_users: int,
             scenario: str) -> Iterator[Cohort]:
    """Cohorts of `batch_users` users, drawing each block once however batches cut it."""
    end = first_user + users
    pending: list[Cohort] = []
    have = 0
    for index in range(first_user // BLOCK_USERS, -(-end // BLOCK_USERS)):
        base = index * BLOCK_USERS
        whole = cohort.block(seed, index, scenario)
        lo, hi = max(first_user, base) - base, min(end, base + BLOCK_USERS) - base
        part = whole if (lo, hi) == (0, BLOCK_USERS) else whole.slice(lo, hi)
        offset = 0
        while offset < part.users:
            take = min(batch_users - have, part.users - offset)
            pending.append(part.slice(offset, offset + take))
            offset += take
            have += take
            if have == batch_users:
                yield Cohort.concat(pending)
                pending, have = [], 0
    if pending:
        yield Cohort.concat(pending)


def _check(users: int, seed: int, batch_users: int, opt_out_share: float, first_user: int,
           tenant: str) -> None:
    if users < 1:
        raise ValueError(f"users must be at least 1, got {users}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if batch_users < 1:
        raise ValueError(f"batch_users must be at least 1, got {batch_users}")
    if not 0.0 <= opt_out_share <= 1.0:
        raise ValueError(f"opt_out_share must be within [0, 1], got {opt_out_share}")
    if first_user < 0:
        raise ValueError(f"first_user must be non-negative, got {first_user}")
    if not tenant or not tenant.replace("_", "").isalnum():
        raise ValueError(f"tenant must be letters, digits and underscores, got {tenant!r}")

