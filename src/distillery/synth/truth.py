"""Ground truth of the simulation, and what it says about any model's possible quality.

The generator records, per event, the latent subscriptionPropensity after it and, per user,
whether and when they converted. Featurization never reads these tables by default; they exist to
put a model's quality in context. For a cutoff T and horizon H:

- the latent propensity at T is p after the user's last event at or before T (0.001 if none): what
  a model that knew the simulation's hidden state at T would score;
- the clairvoyant probability is the exact probability of converting in (T, T+H] given the events
  that actually follow: 1 - prod(1 - p) over the qualifying events whose draw falls in the window,
  a ceiling that no honest model (which cannot see the future events) can reach.

A conversion is stamped 60 s after its triggering event, so "converts in (T, T+H]" means a
trigger in (T - 60 s, T + H - 60 s]; using that window makes the clairvoyant probability exact.
Users who converted at or before T cannot convert again: their clairvoyant probability is 0, and
model quality should be measured on the others (`converted_before_T` is false).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillery.synth import spec
from distillery.synth.schemas import TRUTH_USERS

TableOrTables: TypeAlias = pa.Table | Iterable[pa.Table]

OUTPUT = pa.schema([
    ("userid", pa.string()),
    ("latent_propensity", pa.float64()),
    ("clairvoyant_probability", pa.float64()),
    ("converted_in_window", pa.bool_()),
    ("converted_before_T", pa.bool_()),
])

_LAG_US = int(spec.CONVERSION_LAG.total_seconds() * 1_000_000)
_QUALIFYING = pa.array([t.name for t in spec.EVENT_TYPES if t.qualifies])
# The columns `latent_and_clairvoyant` reads of each ground-truth dataset.
EVENT_COLUMNS = ["userid", "timestamp", "eventType", "subscriptionPropensity"]
USER_COLUMNS = ["userid", "converted", "converted_at"]
# Events per lookup of their users: each lookup hashes every user, so about as many events.
_CHUNK_ROWS = 2_000_000


def latent_and_clairvoyant(truth_events: TableOrTables, truth_users: TableOrTables,
                           cutoff: datetime, horizon: timedelta) -> pa.Table:
    """Latent propensity at the cutoff and clairvoyant conversion probability, per user.

    Args:
        truth_events: The ground-truth events table, or an iterable of its batches (read one at
            a time, so memory stays bounded by the users, not the events).
        truth_users: The ground-truth users table, or an iterable of its batches.
        cutoff: T (timezone-aware, or naive meaning UTC).
        horizon: H.

    Returns:
        One row per user: userid, latent_propensity, clairvoyant_probability,
        converted_in_window (conversion in (T, T+H]) and converted_before_T (at or before T).
    """
    users = _concat(truth_users, TRUTH_USERS, USER_COLUMNS)
    t = _micros(cutoff)
    h = int(horizon / timedelta(microseconds=1))
    ids = users["userid"].combine_chunks()
    acc = _Accumulator(len(users))
    for chunk in _gathered(_tables(truth_events), _CHUNK_ROWS):
        acc.add(chunk, ids, t, h)
    at = pc.fill_null(users["converted_at"].cast(pa.int64()), 0).to_numpy()
    converted = users["converted"].to_numpy(zero_copy_only=False).astype(bool)
    before = converted & (at <= t)
    in_window = converted & (at > t) & (at <= t + h)
    clairvoyant = np.where(before, 0.0, -np.expm1(acc.log_survival))
    return pa.Table.from_arrays(
        [users["userid"], pa.array(acc.latent), pa.array(clairvoyant), pa.array(in_window),
         pa.array(before)],
        schema=OUTPUT,
    )


@dataclass
class _Accumulator:
    """Per-user running state while the events stream by."""

    latent: np.ndarray
    latent_at: np.ndarray
    log_survival: np.ndarray

    def __init__(self, users: int) -> None:
        self.latent = np.full(users, spec.INITIAL_PROPENSITY)
        self.latent_at = np.full(users, np.iinfo(np.int64).min)
        self.log_survival = np.zeros(users)

    def add(self, events: pa.Table, users: pa.Array, t: int, h: int) -> None:
        # Arrow's hash lookup (the users are hashed once per chunk, see `_CHUNK_ROWS`): a
        # pandas index needed a Python string per event, most of a million users' comparison.
        found = pc.index_in(events["userid"], value_set=users)
        if found.null_count:
            raise ValueError("truth events name users that are not in the truth users table")
        user = found.to_numpy().astype(np.int64)
        ts = events["timestamp"].cast(pa.int64()).to_numpy(zero_copy_only=False)
        p = events["subscriptionPropensity"].to_numpy(zero_copy_only=False)
        self._latest(user, ts, p, t)
        qualifying = pc.is_in(events["eventType"], value_set=_QUALIFYING).to_numpy(
            zero_copy_only=False)
        draw = qualifying & (ts > t - _LAG_US) & (ts <= t + h - _LAG_US)
        with np.errstate(divide="ignore"):
            # log(1 - p) summed per user is the log of the product of the survival factors.
            np.add.at(self.log_survival, user[draw], np.log1p(-p[draw]))

    def _latest(self, user: np.ndarray, ts: np.ndarray, p: np.ndarray, t: int) -> None:
        """Take each user's latest event at or before T (the last of equal times), when it is
        not older than what an earlier chunk gave. Two `ufunc.at` passes: a sort of the
        events by user and time cost seven times more."""
        known = ts <= t
        user, ts, p = user[known], ts[known], p[known]
        if len(user) == 0:
            return
        latest = np.full(len(self.latent), np.iinfo(np.int64).min)
        np.maximum.at(latest, user, ts)
        at_latest = np.flatnonzero(ts == latest[user])
        pick = np.full(len(self.latent), -1)
        np.maximum.at(pick, user[at_latest], at_latest)
        who = np.flatnonzero(pick >= 0)
        rows = pick[who]
        newer = ts[rows] >= self.latent_at[who]
        self.latent[who[newer]] = p[rows[newer]]
        self.latent_at[who[newer]] = ts[rows[newer]]


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half).

    Args:
        scores: Higher means more likely positive.
        labels: True for positives.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    s = scores[order]
    # Average rank of each run of tied scores.
    starts = np.flatnonzero(np.append(True, s[1:] != s[:-1]))
    ends = np.append(starts[1:], len(s))
    ranks = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    rank_sum = ranks[labels[order]].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


@dataclass(frozen=True)
class Context:
    """How well any model could do at a cutoff, from the ground truth.

    Attributes:
        users: Users not converted at or before the cutoff (the population at risk).
        converted_before: Users converted at or before the cutoff.
        converters: Users at risk who convert in the horizon.
        conversion_rate: converters / users.
        latent_auc: AUC of ranking the users at risk by their latent propensity at the cutoff.
        clairvoyant_auc: AUC of ranking them by the clairvoyant probability (the ceiling).
    """

    users: int
    converted_before: int
    converters: int
    conversion_rate: float
    latent_auc: float
    clairvoyant_auc: float


def context(table: pa.Table) -> Context:
    """Summarise a `latent_and_clairvoyant` table over the users at risk at the cutoff."""
    before = table["converted_before_T"].to_numpy(zero_copy_only=False).astype(bool)
    y = table["converted_in_window"].to_numpy(zero_copy_only=False)[~before].astype(bool)
    latent = table["latent_propensity"].to_numpy()[~before]
    clair = table["clairvoyant_probability"].to_numpy()[~before]
    at_risk = int((~before).sum())
    return Context(users=at_risk, converted_before=int(before.sum()), converters=int(y.sum()),
                   conversion_rate=float(y.mean()) if at_risk else float("nan"),
                   latent_auc=auc(latent, y), clairvoyant_auc=auc(clair, y))


def _tables(data: TableOrTables) -> Iterable[pa.Table]:
    if isinstance(data, pa.Table):
        return [data]
    if isinstance(data, pa.RecordBatch):
        return [pa.Table.from_batches([data])]
    return (d if isinstance(d, pa.Table) else pa.Table.from_batches([d]) for d in data)


def _gathered(tables: Iterable[pa.Table], rows: int) -> Iterator[pa.Table]:
    """The tables regrouped into tables of at least `rows` rows (the last one may be smaller):
    each chunk's user lookup hashes every user once, so chunks must not be small."""
    pending: list[pa.Table] = []
    size = 0
    for table in tables:
        pending.append(table)
        size += table.num_rows
        if size >= rows:
            yield pa.concat_tables(pending)
            pending, size = [], 0
    if pending:
        yield pa.concat_tables(pending)


def _concat(data: TableOrTables, schema: pa.Schema, names: list[str]) -> pa.Table:
    tables = [t.select(names) for t in _tables(data)]
    if not tables:
        return schema.empty_table().select(names)
    return pa.concat_tables(tables, promote_options="permissive").combine_chunks()


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        return int(pa.scalar(moment, type=pa.timestamp("us")).value)
    return int(pa.scalar(moment, type=pa.timestamp("us", tz="UTC")).value)
