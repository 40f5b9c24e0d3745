"""Keeping profiles fresh: a lake commit hook that refreshes them after every batch.

`attach(platform)` registers the hook (idempotent); it also reacts to batches of the audience
memberships dataset, whose rows the profiles list. The platform also installs it through its
SQL extensions (`install`), so any platform that has served a query keeps its profiles fresh.
The hook does nothing until the profiles have been built once (`refresh`, `distillery profile
refresh`, scoring, a profile lookup), so steps that never use profiles pay nothing. A refresh
that fails never fails the batch that triggered it: the batch is committed, the error is
reported through the console, and the next refresh picks the snapshot up again.

`deferred(platform)` holds the hook for a block of writes and refreshes once at its end: the
loop's audience step writes one membership batch per audience, and each refresh rewrites every
unified row.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from distillery.lake.catalog import BatchRecord, DatasetRecord
from distillery.profiles import store
from distillery.profiles.memberships import DATASET as MEMBERSHIPS
from distillery.profiles.memberships import TAG as MEMBERSHIPS_TAG
from distillery.profiles.refresh import refresh
from distillery.profiles.sources import INTERNAL_TAG

_MARK = "_distillery_profiles_hook"
# Platforms whose hook is held by `deferred`, with whether a batch has called for a refresh.
_HELD: weakref.WeakKeyDictionary[Any, list[bool]] = weakref.WeakKeyDictionary()


def attach(platform: Any) -> None:
    """Refresh the unified profiles after each batch committed into a profile-enabled
    dataset (once they have been built)."""
    if any(getattr(h, _MARK, False) for h in platform.lake.commit_hooks):
        return

    def hook(dataset: DatasetRecord, batch: BatchRecord) -> None:
        feeds = dataset.profile_enabled or dataset.name == MEMBERSHIPS or \
            bool(dataset.tags.get(MEMBERSHIPS_TAG))
        if not feeds or dataset.tags.get(INTERNAL_TAG):
            return
        if store.find(platform, store.UNIFIED) is None:
            return
        held = _HELD.get(platform)
        if held is not None:
            held[0] = True
            return
        _refresh_quietly(platform, f"after batch {batch.id} into {dataset.name!r}")

    setattr(hook, _MARK, True)
    platform.lake.commit_hooks.append(hook)


@contextmanager
def deferred(platform: Any) -> Iterator[None]:
    """Hold the refresh hook while the block runs; at its end, refresh once if a batch
    called for it (also when the block failed: its committed batches stay committed).
    Nested blocks refresh at the outermost end."""
    if platform in _HELD:
        yield
        return
    _HELD[platform] = [False]
    try:
        yield
    finally:
        due = _HELD.pop(platform)[0]
        if due:
            _refresh_quietly(platform, "after the held batches")


def _refresh_quietly(platform: Any, when: str) -> None:
    try:
        refresh(platform)
    except Exception as exc:  # the batch is committed: report, the next refresh retries
        platform.console.note(f"unified profiles not refreshed {when}: {exc}; the next "
                              "refresh will retry")


def install(service: Any, platform: Any) -> None:
    """SQL extension entry point (see `Platform.SQL_EXTENSIONS`): attach the refresh hook."""
    attach(platform)
