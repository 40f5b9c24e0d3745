"""The datasets the profile machinery writes, and the lock that serialises refreshes.

- `identity_links`: identity pairs seen together in a record, with first and last sight.
  Appended at each refresh; compacted to one row per pair every `COMPACT_AFTER` batches.
- `identity_graph`: one row per identity: namespace, id, person_id, status, last_seen.
- `unified_profiles`: one row per person (the name `profiles` is the generator's Individual
  Profile dataset, so the unified table has its own).

All three are ordinary datasets, so the Query Service serves them and every step downstream
(audiences, destinations) reads them with SQL. None is profile-enabled: they never feed back.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from distillery.lake.catalog import BatchRecord, DatasetRecord
from distillery.lake.schema import Schema, infer_schema
from distillery.profiles.graph import GRAPH_SCHEMA
from distillery.profiles.sources import INTERNAL_TAG

UNIFIED = "unified_profiles"
GRAPH = "identity_graph"
LINKS = "identity_links"
COMPACT_AFTER = 20

LINKS_SCHEMA = pa.schema([
    pa.field("a_ns", pa.string(), nullable=False), pa.field("a_id", pa.string(), nullable=False),
    pa.field("b_ns", pa.string(), nullable=False), pa.field("b_id", pa.string(), nullable=False),
    pa.field("first_seen", pa.timestamp("us", tz="UTC")),
    pa.field("last_seen", pa.timestamp("us", tz="UTC")),
])

_DESCRIPTIONS = {
    UNIFIED: "Unified profiles: one row per person, merged by the default merge policy.",
    GRAPH: "Identity graph: each identity and the person it belongs to.",
    LINKS: "Identity links: identity pairs seen together in a profile-enabled record.",
}
_locks: dict[str, tuple[threading.RLock, list[int]]] = {}
_locks_guard = threading.Lock()


def find(platform: Any, name: str) -> DatasetRecord | None:
    """One of the profile datasets, if it exists."""
    ds = platform.lake.catalog.find_dataset(name)
    return ds if ds is not None and ds.tags.get(INTERNAL_TAG) else None


def files(platform: Any, name: str) -> list[str]:
    """The current files of a profile dataset (none when it does not exist)."""
    ds = find(platform, name)
    return platform.lake.files(ds) if ds is not None and ds.version >= 0 else []


def adhoc_schema(arrow: pa.Schema, title: str) -> Schema:
    """An ad-hoc schema for an internal dataset, from its Arrow schema."""
    return infer_schema(arrow, title)


def write(platform: Any, name: str, data: Any, schema: Schema, mode: str = "overwrite"
          ) -> BatchRecord:
    """Write one of the profile datasets as one batch; a dataset whose schema changed (a new
    profile field) is recreated."""
    ds = find(platform, name)
    if ds is not None and ds.schema.to_arrow() != schema.to_arrow():
        platform.lake.drop_dataset(ds.id)
        mode = "overwrite"
    return platform.lake.write(name, data, schema=schema, mode=mode, error_threshold=0.0,
                               tags={INTERNAL_TAG: True, "featurize": False},
                               description=_DESCRIPTIONS.get(name, ""))


def needs_compaction(platform: Any) -> bool:
    """Whether the links dataset has gathered enough appended batches to be rewritten."""
    ds = find(platform, LINKS)
    if ds is None:
        return False
    live = [b for b in platform.catalog.batches(ds.id) if b.state == "success"]
    return len(live) > COMPACT_AFTER


@contextmanager
def exclusive(platform: Any) -> Iterator[None]:
    """Hold the sandbox's profile lock: one refresh at a time, across threads (re-entrant)
    and processes (an advisory file lock)."""
    key = str(platform.root)
    with _locks_guard:
        lock, depth = _locks.setdefault(key, (threading.RLock(), [0]))
    with lock:
        depth[0] += 1
        handle = None
        try:
            if depth[0] == 1:
                handle = (platform.root / "profiles.lock").open("w")
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            depth[0] -= 1
            if handle is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()


__all__ = ["GRAPH", "GRAPH_SCHEMA", "LINKS", "LINKS_SCHEMA", "UNIFIED", "exclusive", "files",
           "find", "write"]
