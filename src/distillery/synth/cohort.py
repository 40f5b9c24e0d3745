"""Blocks of users: every random draw of the generator, made once per fixed block of users.

A block's generators are seeded with (seed, block index, stream), and the block size is a
constant, so a user's rows depend only on the seed and on which block the user falls in: the same
seed and users give identical rows whatever the batch size, the first user, or the number of
processes. A `Cohort` is any run of users (a block, a slice of one, or several concatenated);
batches are cohorts turned into Arrow tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillery.synth import behaviour, conversion, spec

# Changing this changes the data a seed gives, so it is part of the generator's definition.
BLOCK_USERS = 10_000
# Independent streams per block: adding a payload field must not move the behaviour draws.
STREAM_BEHAVIOUR, STREAM_PAYLOAD, STREAM_PROFILE = 0, 1, 2
# Uniform draws per user for the profile's fields (see profiles.py for their use).
PROFILE_DRAWS = 16
WINDOW_US = int(spec.WINDOW.total_seconds()) * 1_000_000


@dataclass(frozen=True)
class Cohort:
    """Consecutive users with all their draws, events in (user, time) order.

    Attributes:
        user_index: Absolute index of each user (the `{id}` of its email).
        converted_at: Per user, microseconds since window start of the conversion, or -1.
        profile_u: Per user, `PROFILE_DRAWS` uniforms in [0, 1) that fix its profile.
        user: Per event, position of its user in this cohort.
        code: Per event, the event type code (see spec.EVENT_TYPES).
        time: Per event, microseconds since window start.
        thread: Per event, the email thread id (0 outside email).
        propensity: Per event, the subscriptionPropensity after it.
        uuid: Per event, 16 random bytes for its `_id`.
        pick: Per event, 64 random bits that choose its payload details.
    """

    user_index: np.ndarray
    converted_at: np.ndarray
    profile_u: np.ndarray
    user: np.ndarray
    code: np.ndarray
    time: np.ndarray
    thread: np.ndarray
    propensity: np.ndarray
    uuid: np.ndarray
    pick: np.ndarray

    @property
    def users(self) -> int:
        """Number of users."""
        return len(self.user_index)

    @property
    def events(self) -> int:
        """Number of events."""
        return len(self.user)

    def slice(self, lo: int, hi: int) -> Cohort:
        """Users at positions lo..hi-1 of this cohort, with their events."""
        a, b = np.searchsorted(self.user, [lo, hi])
        return Cohort(
            self.user_index[lo:hi], self.converted_at[lo:hi], self.profile_u[lo:hi],
            self.user[a:b] - lo, self.code[a:b], self.time[a:b], self.thread[a:b],
            self.propensity[a:b], self.uuid[a:b], self.pick[a:b],
        )

    @staticmethod
    def concat(parts: list[Cohort]) -> Cohort:
        """The users of `parts`, in order (renumbering event users)."""
        if len(parts) == 1:
            return parts[0]
        shift = np.cumsum([0] + [p.users for p in parts[:-1]])
        return Cohort(
            np.concatenate([p.user_index for p in parts]),
            np.concatenate([p.converted_at for p in parts]),
            np.concatenate([p.profile_u for p in parts]),
            np.concatenate([p.user + s for p, s in zip(parts, shift, strict=True)]),
            *(np.concatenate([getattr(p, name) for p in parts])
              for name in ("code", "time", "thread", "propensity", "uuid", "pick")),
        )


def block(seed: int, index: int, scenario: str) -> Cohort:
    """Draw block `index` (users index*BLOCK_USERS ... (index+1)*BLOCK_USERS - 1).

    Args:
        seed: The run's seed (non-negative).
        index: The block index.
        scenario: "reference" or "independent".
    """
    rngs = [np.random.default_rng([seed, index, stream])
            for stream in (STREAM_BEHAVIOUR, STREAM_PAYLOAD, STREAM_PROFILE)]
    events = behaviour.simulate(rngs[0], BLOCK_USERS, WINDOW_US, scenario)
    walked = conversion.walk(rngs[0], events, BLOCK_USERS)
    n = len(walked.user)
    uuid = np.frombuffer(rngs[1].bytes(16 * n), dtype=np.uint8).reshape(n, 16)
    pick = rngs[1].integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64)
    profile_u = rngs[2].random((BLOCK_USERS, PROFILE_DRAWS))
    first = index * BLOCK_USERS
    return Cohort(
        np.arange(first, first + BLOCK_USERS, dtype=np.int64), walked.converted_at, profile_u,
        walked.user, walked.code, walked.time, walked.thread, walked.propensity, uuid, pick,
    )

