"""Which events each user has, and when: the reference's Poisson/exponential process, vectorised.

Base types get Poisson(weekly x 10) occurrences per user at uniform times in the window. Each
dependency (parent -> children) then draws, per parent occurrence and child type, Poisson(child
weekly x 10) children at parent time + Exponential(child delay).

In the "reference" scenario the reference notebook ASSIGNS each occurrence's child list to the
child type, so only the children of the last occurrence of the parent survive, and when a user has
any emailClicked its children replace the base pageViews list. The occurrences are iid, so "the
last occurrence" is a uniformly chosen one; we take each user's first-drawn occurrence, which has
the same joint distribution. The "independent" scenario keeps every occurrence's children.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillery.synth import spec

_US_PER_HOUR = 3_600_000_000


@dataclass(frozen=True)
class Occurrences:
    """Occurrences of one event type for the users of a block.

    Attributes:
        user: Position of the user within the block.
        time: Microseconds since the start of the window.
        thread: Id of the email thread (the emailSent it descends from), 0 when there is none.
    """

    user: np.ndarray
    time: np.ndarray
    thread: np.ndarray

    def take(self, index: np.ndarray) -> Occurrences:
        """The occurrences at `index`."""
        return Occurrences(self.user[index], self.time[index], self.thread[index])

    @staticmethod
    def concat(parts: list[Occurrences]) -> Occurrences:
        """All occurrences of `parts`, in order."""
        return Occurrences(np.concatenate([p.user for p in parts]),
                           np.concatenate([p.time for p in parts]),
                           np.concatenate([p.thread for p in parts]))


@dataclass(frozen=True)
class Events:
    """Every event of a block, one row each, in generation order (not sorted)."""

    user: np.ndarray
    code: np.ndarray
    time: np.ndarray
    thread: np.ndarray


def simulate(rng: np.random.Generator, users: int, window_us: int, scenario: str) -> Events:
    """Draw the events of `users` users.

    Args:
        rng: The block's behaviour generator; draws happen in a fixed order.
        users: Number of users in the block.
        window_us: Length of the window in microseconds.
        scenario: "reference" (child replacement) or "independent".

    Returns:
        The block's events (without conversions).
    """
    spec.check_scenario(scenario)
    lists = {name: _base(rng, users, window_us, spec.mean(name)) for name in spec.BASE_TYPES}
    lists["directMarketing.emailSent"] = _new_threads(rng, lists["directMarketing.emailSent"])
    for parent, children in spec.DEPENDENCIES:
        occ = lists.get(parent)
        if occ is None or len(occ.user) == 0:
            continue
        if scenario == "reference":
            occ = _one_per_user(occ)
        for child in children:
            born = _spawn(rng, occ, spec.EVENT_TYPES[spec.CODE[child]])
            lists[child] = _merge(lists.get(child), born, occ.user, users, scenario)
    return _flatten(lists)


def _base(rng: np.random.Generator, users: int, window_us: int, mean: float) -> Occurrences:
    counts = rng.poisson(mean, users)
    user = np.repeat(np.arange(users, dtype=np.int32), counts)
    time = rng.integers(0, window_us, size=len(user), dtype=np.int64)
    return Occurrences(user, time, np.zeros(len(user), dtype=np.uint64))


def _new_threads(rng: np.random.Generator, sent: Occurrences) -> Occurrences:
    """Give every sent email its own thread id, inherited by its opens and clicks."""
    thread = rng.integers(1, 2**63, size=len(sent.user), dtype=np.int64).astype(np.uint64)
    return Occurrences(sent.user, sent.time, thread)


def _one_per_user(occ: Occurrences) -> Occurrences:
    _, first = np.unique(occ.user, return_index=True)
    return occ.take(first)


def _spawn(rng: np.random.Generator, parents: Occurrences, child: spec.EventType) -> Occurrences:
    counts = rng.poisson(child.weekly * spec.WEEKS, len(parents.user))
    index = np.repeat(np.arange(len(parents.user)), counts)
    delay = rng.exponential(child.delay_hours * _US_PER_HOUR, size=len(index))
    born = parents.take(index)
    return Occurrences(born.user, born.time + np.rint(delay).astype(np.int64), born.thread)


def _merge(existing: Occurrences | None, born: Occurrences, parent_users: np.ndarray,
           users: int, scenario: str) -> Occurrences:
    if existing is None:
        return born
    if scenario == "reference":
        # The assignment in the reference discards whatever the child type held before, for
        # every user that has at least one parent occurrence.
        replaced = np.zeros(users, dtype=bool)
        replaced[parent_users] = True
        existing = existing.take(~replaced[existing.user])
    return Occurrences.concat([existing, born])


def _flatten(lists: dict[str, Occurrences]) -> Events:
    names = [n for n in spec.NAMES if n in lists]
    parts = [lists[n] for n in names]
    code = np.concatenate([np.full(len(p.user), spec.CODE[n], dtype=np.int8)
                           for n, p in zip(names, parts, strict=True)])
    occ = Occurrences.concat(parts)
    return Events(occ.user, code, occ.time, occ.thread)
