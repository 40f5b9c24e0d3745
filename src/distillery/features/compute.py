"""`compute_features`: the one function that computes a definition's features at a cutoff,
for training sets and for scoring alike."""

from __future__ import annotations

import os
from contextlib import ExitStack
from datetime import date, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from distillery.features import pit, pivot, profiles_asof
from distillery.features.definition import POPULATIONS, FeatureDefinition
from distillery.features.errors import FeatureError
from distillery.features.sqltree import Params, arrow, served
from distillery.features.timeparse import parse_cutoff
from distillery.lake.catalog import DatasetRecord

if TYPE_CHECKING:
    from distillery.platform import Platform


def compute_features(platform: Platform, definition: FeatureDefinition,
                     cutoff: datetime | date | str, *, population: str = "all",
                     snapshot: int | None = None, state: str | None = None,
                     batch_size: int = 100_000) -> pa.RecordBatchReader:
    """Features of every person as of `cutoff`, from events strictly before it.

    One row per person with at least one event before the cutoff: the identity column
    (`definition.identity_column`), `cutoff`, then `definition.feature_names()` in order, with
    a column for every event type of the definition even when a type no longer occurs. Counts
    and sums are 0 when there is nothing to count; a recency is NULL when the person never had
    such an event before the cutoff (left for the model to handle, not replaced by a made-up
    number); profile attributes are NULL for people without a profile.

    Args:
        platform: The platform holding the events (and profiles).
        definition: The feature definition (`FeatureDefinition.from_dataset` for a training
            set's).
        cutoff: The time T; an ISO text, date (00:00 UTC) or datetime (naive = UTC).
        population: "all" (everyone with an event before T) or "not-converted" (without also
            people who converted at or before T).
        snapshot: The events snapshot to read (default: current).
        state: An incremental feature state dataset to compute from instead of the raw events
            (see `incremental`); it is brought up to date first, and T must fall on its grain.
        batch_size: Rows per record batch.

    Raises:
        FeatureError: a bad option, or the engine failed the query.
    """
    table = features_table(platform, definition, cutoff, population=population,
                           snapshot=snapshot, state=state)
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(batch_size))


def features_table(platform: Platform, definition: FeatureDefinition,
                   cutoff: datetime | date | str, *, population: str = "all",
                   snapshot: int | None = None, state: str | None = None,
                   converted: pa.Array | None = None) -> pa.Table:
    """`compute_features` as one Arrow table. `converted` (the people who converted at or
    before the cutoff) saves the query that finds them, for a caller that has them already."""
    moment = parse_cutoff(cutoff)
    if population not in POPULATIONS:
        raise FeatureError(f"population must be one of {', '.join(POPULATIONS)}, got "
                           f"{population!r}")
    if definition.kind != "point_in_time":
        raise FeatureError("compute_features needs a point-in-time definition; the "
                           "reference-compatible set is row-level and is rebuilt with "
                           "build_reference_training_set")
    events = platform.dataset(definition.events_id)
    version = _version(platform, definition, events.version, snapshot, state)
    params = Params()
    with ExitStack() as stack:
        source = _source(platform, definition, moment, params, stack, state, events, version)
        long = arrow(platform, pit.long_form(source, definition, moment, params), params,
                     f"features of dataset {events.name!r}")
        exclude = None
        if population == "not-converted":
            exclude = converted
            if exclude is None:
                table = stack.enter_context(served(platform, events, version))
                exclude = converted_by(platform, definition, events, table, moment)
        threads = platform.config.duckdb.threads or os.cpu_count() or 2
        wide = pivot.to_wide(long, definition, moment, exclude, threads=min(threads, 4))
    if definition.profiles is not None:
        wide = _with_profiles(platform, definition, moment, wide)
    return wide


def _version(platform: Platform, d: FeatureDefinition, current: int, snapshot: int | None,
             state: str | None) -> int:
    if state is None:
        return current if snapshot is None else snapshot
    if snapshot is not None:
        raise FeatureError("features from an incremental state are as of the events' current "
                           "snapshot; do not pass a snapshot with a state")
    from distillery.features.incremental import update_state

    return update_state(platform, state, d.events_id, identity=d.identity, timestamp=d.timestamp,
                        event_type=d.event_type, measures=d.measures).events_version


def _source(platform: Platform, d: FeatureDefinition, cutoff: datetime, params: Params,
            stack: ExitStack, state: str | None, events: DatasetRecord,
            version: int) -> pit.Source:
    if state is None:
        return pit.raw_source(d, stack.enter_context(served(platform, events, version)),
                              cutoff, params)
    from distillery.features.incremental import state_source

    return state_source(platform, state, d, cutoff, params, stack)


def converted_by(platform: Platform, d: FeatureDefinition, events: DatasetRecord,
                 events_table: exp.Expression, cutoff: datetime) -> pa.Array:
    """The people who converted at or before the cutoff."""
    params = Params()
    found = arrow(platform, pit.conversions(d, events, events_table, cutoff, cutoff, params),
                  params, f"conversions in dataset {events.name!r}")
    return found.filter(pc.greater(found.column("before"), 0)).column("person") \
        .combine_chunks().cast(pa.string())


def _with_profiles(platform: Platform, d: FeatureDefinition, cutoff: datetime,
                   wide: pa.Table) -> pa.Table:
    assert d.profiles is not None
    people = wide.column(d.identity_column).combine_chunks()
    for column, values in profiles_asof.attributes_for(platform, d.profiles, cutoff,
                                                       people).items():
        wide = wide.append_column(column, values)
    return wide
