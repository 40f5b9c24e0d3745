"""The datasets profiles are built from: every profile-enabled dataset of the sandbox.

Record datasets (Individual Profile class, and ad-hoc ones) give profile fragments: their
attributes are merged. Event datasets (ExperienceEvent class) give identities and the person's
recent events, not attributes. Every fragment has a time: a record's own timestamp field when its
schema has one (`tags["fragment_time"]` names it, else the first timestamp field), else the
commit time of the batch that brought it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from distillery.lake.catalog import DatasetRecord
from distillery.lake.schema import Field, IdentityDescriptor

# Tag on datasets that the profile machinery writes itself; they never feed profiles.
INTERNAL_TAG = "profiles_internal"
FRAGMENT_TIME_TAG = "fragment_time"


@dataclass(frozen=True)
class Source:
    """One profile-enabled dataset at its current snapshot.

    Attributes:
        dataset: The catalog record.
        files: Parquet files of the current snapshot (absolute paths).
        time_field: Dotted path of the record's own timestamp, if any.
    """

    dataset: DatasetRecord
    files: tuple[str, ...]
    time_field: str | None

    @property
    def is_events(self) -> bool:
        """Whether the dataset holds experience events (identities only, no attributes)."""
        return self.dataset.schema.cls == "event"

    @property
    def identities(self) -> tuple[IdentityDescriptor, ...]:
        """Identity descriptors, primary first."""
        return tuple(sorted(self.dataset.schema.identities, key=lambda i: not i.primary))

    @property
    def has_identity_map(self) -> bool:
        """Whether records carry an XDM identityMap."""
        return "identityMap" in self.dataset.schema.to_arrow().names

    def attribute_leaves(self) -> list[tuple[str, Field]]:
        """The fields merged into profiles: scalar leaves (and arrays, as whole values) other
        than identityMap."""
        out = []
        for dotted, f in self.dataset.schema.leaves():
            if dotted == "identityMap" or dotted.startswith("identityMap."):
                continue
            if f.type != "struct":
                out.append((dotted, f))
        return out


def profile_sources(platform: Any) -> list[Source]:
    """Every profile-enabled dataset that is not one the profile machinery writes."""
    out = []
    for ds in platform.lake.datasets():
        if not ds.profile_enabled or ds.tags.get(INTERNAL_TAG):
            continue
        files = tuple(platform.lake.files(ds)) if ds.version >= 0 else ()
        out.append(Source(ds, files, time_field(ds)))
    return out


def time_field(ds: DatasetRecord) -> str | None:
    """The record's own time: the tagged field, `timestamp` for events, else the first
    timestamp field of a record schema."""
    leaves = dict(ds.schema.leaves())
    tagged = ds.tags.get(FRAGMENT_TIME_TAG)
    if tagged and tagged in leaves:
        return str(tagged)
    if ds.schema.cls == "event":
        return "timestamp" if "timestamp" in leaves else None
    return next((p for p, f in leaves.items() if f.type in ("timestamp", "date-time")), None)


def batch_times(platform: Any, sources: list[Source]) -> pa.Table:
    """When the batch that brought each file committed: (file, file_idx, batch_time) for every
    file of the sources; the fragment time of records without a time of their own, and the
    file's number in record keys."""
    files: list[str] = []
    times: list[datetime] = []
    for src in sources:
        committed = {}
        for b in platform.catalog.batches(src.dataset.id):
            for name in b.files:
                committed[name] = b.completed_at or b.created_at
        for uri in src.files:
            stamp = committed.get(uri.rsplit("/", 1)[-1], src.dataset.created_at)
            files.append(uri)
            times.append(datetime.fromisoformat(stamp))
    return pa.table({"file": pa.array(files, pa.string()),
                     "file_idx": pa.array(range(len(files)), pa.int64()),
                     "batch_time": pa.array(times, pa.timestamp("us", tz="UTC"))})
