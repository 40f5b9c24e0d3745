"""The conversion process: the latent propensity walk and the Bernoulli draws, vectorised.

Per user, in time order: p starts at 0.001 and each event sets p = clip(p + delta, 0, 1), recorded
as the event's subscriptionPropensity. At a qualifying event (neither directMarketing.* nor
advertising.*) of a user not yet subscribed a Bernoulli(p) is drawn; the first success adds a
web.formFilledOut 60 s later. Drawing at every qualifying event and keeping the first success
is the same process, since later draws of a subscribed user are never looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillery.synth import spec
from distillery.synth.behaviour import Events

_LAG_US = int(spec.CONVERSION_LAG.total_seconds() * 1_000_000)
_TIME_BITS = 45


@dataclass(frozen=True)
class Walked:
    """A block's events in (user, time) order with their propensity, conversions included.

    Attributes:
        user, code, time, thread: As in `Events`, sorted by user then time.
        propensity: subscriptionPropensity after each event.
        converted_at: Per user, microseconds since window start of the formFilledOut, or -1.
    """

    user: np.ndarray
    code: np.ndarray
    time: np.ndarray
    thread: np.ndarray
    propensity: np.ndarray
    converted_at: np.ndarray


def walk(rng: np.random.Generator, events: Events, users: int) -> Walked:
    """Sort a block's events, run the propensity walk and add the conversions.

    Args:
        rng: The block's behaviour generator (draws one uniform per event).
        events: The block's events in generation order.
        users: Number of users in the block.
    """
    key = _sort_key(events.user, events.time)
    order = np.argsort(key, kind="stable")
    key, user, code, time = key[order], events.user[order], events.code[order], events.time[order]
    thread = events.thread[order]
    p = propensity(user, code)
    # Reference: np.random.binomial(1, p) at each qualifying event until the first success.
    success = spec.QUALIFIES[code] & (rng.random(len(p)) < p)
    hit_users, first = np.unique(user[success], return_index=True)
    trigger = np.flatnonzero(success)[first]
    converted_at = np.full(users, -1, dtype=np.int64)
    converted_at[hit_users] = time[trigger] + _LAG_US
    return _add_forms(key, user, code, time, thread, p, hit_users, converted_at)


def propensity(user: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Running clipped propensity of events sorted by user then time.

    The walk is sequential per user, so it loops over the position within the user (a few dozen
    steps) and is vectorised across users; each step does the same float operations, in the same
    order, as the reference's per-user loop.
    """
    n = len(user)
    p = np.empty(n, dtype=np.float64)
    if n == 0:
        return p
    delta = spec.DELTAS[code]
    new_user = np.ones(n, dtype=bool)
    new_user[1:] = user[1:] != user[:-1]
    starts = np.flatnonzero(new_user)
    position = np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))
    by_position = np.argsort(position, kind="stable")
    bounds = np.searchsorted(position[by_position], np.arange(position.max() + 2))
    rows = by_position[bounds[0]:bounds[1]]
    p[rows] = np.clip(spec.INITIAL_PROPENSITY + delta[rows], 0.0, 1.0)
    for k in range(1, len(bounds) - 1):
        rows = by_position[bounds[k]:bounds[k + 1]]
        p[rows] = np.clip(p[rows - 1] + delta[rows], 0.0, 1.0)
    return p


def _sort_key(user: np.ndarray, time: np.ndarray) -> np.ndarray:
    """One int64 that orders by user, then time (times are under 2**45 us, about 407 days)."""
    return (user.astype(np.int64) << _TIME_BITS) | time


def _add_forms(key: np.ndarray, user: np.ndarray, code: np.ndarray, time: np.ndarray,
               thread: np.ndarray, p: np.ndarray, hit_users: np.ndarray,
               converted_at: np.ndarray) -> Walked:
    form_time = converted_at[hit_users]
    # Inserting after every event with the same or an earlier key puts a formFilledOut after
    # any event at the same instant, so its predecessor is always an event of the same user (at
    # least its trigger) and its delta of 0 carries p over.
    at = np.searchsorted(key, _sort_key(hit_users, form_time), side="right")
    user = np.insert(user, at, hit_users.astype(user.dtype))
    code = np.insert(code, at, spec.FORM_CODE)
    time = np.insert(time, at, form_time)
    thread = np.insert(thread, at, 0)
    forms = at + np.arange(len(at))
    p = np.insert(p, at, 0.0)
    p[forms] = p[forms - 1]
    return Walked(user, code, time, thread, p, converted_at)
