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

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeAlias

import numpy as np
import pandas as pd
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
    users = _concat(truth_users, TRUTH_USERS)
    t = _micros(cutoff)
    h = int(horizon / timedelta(microseconds=1))
    # One hash index of the users, probed by every chunk of events.
    index = pd.Index(users["userid"].to_numpy(zero_copy_only=False))
    acc = _Accumulator(len(users))
    for chunk in _tables(truth_events):
        acc.add(chunk, index, t, h)
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

    def add(self, events: pa.Table, users: pd.Index, t: int, h: int) -> None:
        user = users.get_indexer(events["userid"].to_numpy(zero_copy_only=False))
        if (user < 0).any():
            raise ValueError("truth events name users that are not in the truth users table")
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
        known = np.flatnonzero(ts <= t)
        order = known[np.lexsort((ts[known], user[known]))]
        if len(order) == 0:
            return
        u = user[order]
        last = order[np.append(u[1:] != u[:-1], True)]
        newer = ts[last] >= self.latent_at[user[last]]
        self.latent[user[last[newer]]] = p[last[newer]]
        self.latent_at[user[last[newer]]] = ts[last[newer]]


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


def _concat(data: TableOrTables, schema: pa.Schema) -> pa.Table:
    tables = [t.select(schema.names) for t in _tables(data)]
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables, promote_options="permissive").combine_chunks()


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        return int(pa.scalar(moment, type=pa.timestamp("us")).value)
    return int(pa.scalar(moment, type=pa.timestamp("us", tz="UTC")).value)
