"""`build_training_set`: the default, point-in-time correct training set.

For each cutoff T: the population (people with an event before T, without those already
converted at or before T for a one-time conversion), their features from events strictly
before T (`compute_features`, the same function scoring uses), and the label: converted in
(T, T + H]. Several cutoffs enlarge the set (a person appears once per cutoff). The rows are
written as one dataset snapshot (the path CREATE TABLE AS takes), with the feature definition
in the dataset's tags.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from distillery.features import conversion as conv
from distillery.features import fields, pit, pivot, profiles_asof
from distillery.features.compute import features_table
from distillery.features.conversion import parse_condition
from distillery.features.definition import (
    DEFAULT_WINDOWS,
    POPULATIONS,
    Conversion,
    FeatureDefinition,
)
from distillery.features.errors import FeatureError
from distillery.features.sqltree import Params, arrow, served
from distillery.features.timeparse import parse_cutoff, parse_duration
from distillery.features.writer import write_set
from distillery.lake import labels
from distillery.lake.catalog import DatasetRecord

if TYPE_CHECKING:
    from distillery.platform import Platform

DEFAULT_CONVERSION = "eventType = 'web.formFilledOut'"


@dataclass
class TrainingSet:
    """What a build wrote.

    Attributes:
        dataset: The training set's dataset name; dataset_id its id.
        rows: Rows written.
        positives: Rows with label 1.
        per_cutoff: Cutoff (ISO) -> {"rows": n, "positives": n}.
        definition: The feature definition stored with it.
        seconds: Wall time of the build.
    """

    dataset: str
    dataset_id: str
    rows: int
    positives: int
    definition: FeatureDefinition
    per_cutoff: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary."""
        d = self.definition
        return {"dataset": self.dataset, "dataset_id": self.dataset_id, "rows": self.rows,
                "positives": self.positives, "per_cutoff": self.per_cutoff,
                "features": len(d.feature_names()), "event_types": list(d.event_types),
                "conversion": d.conversion.describe(), "population": d.population,
                "horizon_seconds": d.horizon_seconds, "snapshots": d.snapshots,
                "seconds": round(self.seconds, 3)}


def build_training_set(platform: Platform, events: str, output: str,
                       cutoffs: Sequence[datetime | date | str], *,
                       horizon: str | timedelta = "14d", conversion: str | None = None,
                       conversion_types: Sequence[str] | None = None,
                       population: str = "not-converted",
                       windows: Sequence[int] = DEFAULT_WINDOWS,
                       measures: Sequence[str] | None = None, identity: str | None = None,
                       timestamp: str = "timestamp", event_type: str = "eventType",
                       profiles: str | None = None,
                       profile_attributes: Sequence[str] | None = None,
                       profiles_as_of: str = "cutoff", replace: bool = False,
                       state: str | None = None) -> TrainingSet:
    """Build the point-in-time training set and write it as dataset `output`.

    Args:
        platform: The platform.
        events: The events dataset (any ExperienceEvent-like dataset).
        output: The training set's dataset name.
        cutoffs: One or more cutoffs T.
        horizon: H; the label is a conversion in (T, T + H].
        conversion: A SQL condition on an event (default: the reference's
            `eventType = 'web.formFilledOut'`); or give `conversion_types`.
        conversion_types: Event types that are conversions.
        population: "not-converted" or "all".
        windows: Count and sum windows in days.
        measures: Numeric fields to sum (default: the XDM order value, when the events hold
            such values before the last cutoff).
        identity: The person field (default: the events' primary identity).
        timestamp: The event time field.
        event_type: The event type field.
        profiles: A profile dataset whose attributes are joined as of each cutoff.
        profile_attributes: Which attributes (default: numbers, booleans, dates, enums).
        profiles_as_of: "cutoff" or "latest" (see `profiles_asof`).
        replace: Overwrite `output` if it exists (as a new snapshot of it).
        state: An incremental feature state to compute features from (see `incremental`);
            it is brought up to date first, and cutoffs must fall at midnight UTC.

    Raises:
        FeatureError: a bad option or input; nothing is written.
    """
    started = time.perf_counter()
    record = platform.dataset(events)
    moments = _cutoffs(cutoffs)
    definition = define(platform, record, moments, horizon=horizon, conversion=conversion,
                        conversion_types=conversion_types, population=population,
                        windows=windows, measures=measures, identity=identity,
                        timestamp=timestamp, event_type=event_type, profiles=profiles,
                        profile_attributes=profile_attributes, profiles_as_of=profiles_as_of)
    if state is not None:
        from distillery.features.incremental import update_state

        update_state(platform, state, record.id, identity=definition.identity,
                     timestamp=timestamp, event_type=event_type, measures=definition.measures)
        record = platform.dataset(record.id)
        definition = definition.model_copy(update={
            "snapshots": {**definition.snapshots, record.name: record.version}})
    counts: dict[str, dict[str, int]] = {}
    rows = pa.RecordBatchReader.from_batches(
        training_schema(definition), _rows(platform, definition, record, counts, state))
    written = write_set(platform, output, rows, definition, replace=replace,
                        description=_describe(definition))
    carry_labels(platform, definition, written, _lineage(definition, record))
    return TrainingSet(dataset=written.name, dataset_id=written.id,
                       rows=sum(c["rows"] for c in counts.values()),
                       positives=sum(c["positives"] for c in counts.values()),
                       definition=definition, per_cutoff=counts,
                       seconds=time.perf_counter() - started)


def define(platform: Platform, record: DatasetRecord, cutoffs: list[datetime], *,
           horizon: str | timedelta, conversion: str | None,
           conversion_types: Sequence[str] | None, population: str, windows: Sequence[int],
           measures: Sequence[str] | None, identity: str | None, timestamp: str,
           event_type: str, profiles: str | None, profile_attributes: Sequence[str] | None,
           profiles_as_of: str) -> FeatureDefinition:
    """Check every option against the datasets and fix the definition (event types seen,
    snapshots read)."""
    if population not in POPULATIONS:
        raise FeatureError(f"--population must be one of {', '.join(POPULATIONS)}, got "
                           f"{population!r}")
    fields.check_featurizable(record)
    person = fields.identity_path(record, identity)
    fields.check_timestamp(record, timestamp)
    fields.check_event_type(record, event_type)
    candidates = fields.default_measures(record) if measures is None else list(measures)
    for m in candidates:
        fields.check_measure(record, m)
    if any(int(w) <= 0 for w in windows):
        raise FeatureError(f"--window values must be positive days, got {list(windows)}")
    base = FeatureDefinition(
        events=record.name, events_id=record.id, identity=person,
        identity_namespace=fields.identity_namespace(record, person), timestamp=timestamp,
        event_type=event_type, event_types=(), windows_days=tuple(int(w) for w in windows),
        measures=tuple(candidates), conversion=_conversion(conversion, conversion_types),
        population=population,  # type: ignore[arg-type]
        horizon_seconds=int(parse_duration(horizon).total_seconds()), cutoffs=tuple(cutoffs),
        snapshots={record.name: record.version})
    seen, matched, held = _scan(platform, base, record, max(cutoffs))
    if measures is None:
        # A default measure is summed only if it holds values: XDM schemas carry an order
        # value whether or not the data fills it, and an always-zero column costs time.
        base = base.model_copy(update={"measures": tuple(held)})
    if not seen:
        raise FeatureError(f"dataset {record.name!r} has no events before the last cutoff "
                           f"{max(cutoffs).isoformat()}; choose a later cutoff")
    source = None
    snapshots = dict(base.snapshots)
    if profiles is not None:
        source = profiles_asof.resolve(platform, profiles, list(profile_attributes)
                                       if profile_attributes is not None else None,
                                       as_of=profiles_as_of)
        for t in cutoffs:
            snapshots[f"{source.dataset}@{t.isoformat()}"] = profiles_asof.snapshot_at(
                platform, source, t)
    return base.model_copy(update={
        "event_types": tuple(seen), "profiles": source, "snapshots": snapshots,
        "conversion": base.conversion.model_copy(update={"matched_event_types": tuple(matched)}),
    })


def _scan(platform: Platform, d: FeatureDefinition, record: DatasetRecord,
          last: datetime) -> tuple[list[str], list[str], list[str]]:
    """The event types seen before the last cutoff, those the conversion matches, and the
    measures that hold values before the last cutoff."""
    with served(platform, record, record.version) as events:
        params = Params()
        query = pit.event_type_summary(d, record, events, last, params, d.measures)
        found = arrow(platform, query, params,
                      f"the event types and the conversion condition on {record.name!r}")
    rows = found.to_pylist()
    held = [m for i, m in enumerate(d.measures)
            if any(r[pit.measure_column(i)] for r in rows)]
    return (sorted(r["event_type"] for r in rows if r["before"]),
            sorted(r["event_type"] for r in rows if r["matched"]), held)


def _rows(platform: Platform, d: FeatureDefinition, record: DatasetRecord,
          counts: dict[str, dict[str, int]], state: str | None) -> Iterator[pa.RecordBatch]:
    version = d.snapshots[record.name]
    assert d.horizon is not None
    for cutoff in d.cutoffs:
        # One query finds both who converted by the cutoff (left out of a not-converted
        # population) and who converts within the horizon (the label).
        with served(platform, record, version) as events:
            params = Params()
            found = arrow(platform, pit.conversions(d, record, events, cutoff,
                                                    cutoff + d.horizon, params), params,
                          f"labels from dataset {record.name!r}")
        before = _strings(found.filter(pc.greater(found.column("before"), 0)).column("person"))
        if state is None:
            wide = features_table(platform, d, cutoff, population=d.population,
                                  snapshot=version, converted=before)
        else:
            wide = features_table(platform, d, cutoff, population=d.population, state=state,
                                  converted=before)
        labelled = _label(wide, found, d)
        positives = int(pc.sum(labelled.column(d.label)).as_py() or 0)
        counts[cutoff.isoformat()] = {"rows": labelled.num_rows, "positives": positives}
        platform.console.note(f"cutoff {cutoff.isoformat()}: {labelled.num_rows:,} people, "
                              f"{positives:,} converted within the horizon")
        yield from labelled.to_batches(200_000)


def _label(wide: pa.Table, found: pa.Table, d: FeatureDefinition) -> pa.Table:
    """Add the label (converted in (T, T + H]) to the population's features."""
    people = wide.column(d.identity_column)
    within = found.filter(pc.greater(found.column("within"), 0)).column("person")
    label = pc.cast(pc.is_in(people, value_set=_strings(within)), pa.int64())
    return wide.append_column(pa.field(d.label, pa.int64()), label)


def _strings(column: pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks().cast(pa.string())


def training_schema(d: FeatureDefinition) -> pa.Schema:
    """The Arrow schema of a point-in-time training set."""
    base = pivot.schema(d)
    if d.profiles is not None:
        for name, kind in profiles_asof.arrow_types(d.profiles).items():
            base = base.append(pa.field(name, kind))
    return base.append(pa.field(d.label, pa.int64()))


def _cutoffs(values: Sequence[datetime | date | str]) -> list[datetime]:
    if isinstance(values, str | date | datetime):
        values = [values]
    moments = sorted({parse_cutoff(v, "--cutoff") for v in values})
    if not moments:
        raise FeatureError("give at least one --cutoff (the time T features are computed at)")
    return moments


def _conversion(condition: str | None, types: Sequence[str] | None) -> Conversion:
    if condition and types:
        raise FeatureError("give either --conversion (a SQL condition) or --conversion-type "
                           "(event types), not both")
    if types:
        return Conversion(event_types=tuple(types))
    text = condition or DEFAULT_CONVERSION
    parse_condition(text)  # raises a FeatureError naming the option before the model would
    return Conversion(condition=text)


def _describe(d: FeatureDefinition) -> str:
    cutoffs = ", ".join(t.isoformat() for t in d.cutoffs)
    return (f"Point-in-time training set from {d.events!r}: label = {d.conversion.describe()} "
            f"within {d.horizon} after each cutoff ({cutoffs}); population {d.population}.")


# Data-usage labels ------------------------------------------------------------------------------

Lineage = dict[str, list[tuple[str, str]]]


def carry_labels(platform: Platform, d: FeatureDefinition, written: DatasetRecord,
                 lineage: Lineage) -> dict[str, frozenset[str]]:
    """Give a training set the labels of the event and profile fields it was computed from
    (`lake.labels.propagate`); `lineage` maps its columns ("*": every row) to those fields."""
    sources = [d.events_id] + ([d.profiles.dataset_id] if d.profiles is not None else [])
    return labels.propagate(platform.catalog, sources, written, lineage)


def _lineage(d: FeatureDefinition, events_record: DatasetRecord) -> Lineage:
    """Which event and profile fields each column of a point-in-time set is computed from.

    Every row is a person at a cutoff, chosen and featurized by identity, time and event
    type, so those fields shape the whole set; so does the conversion when the population
    leaves out who converted already (else it makes only the label)."""
    events = d.events_id
    every_row = [(events, f) for f in (d.identity, d.timestamp, d.event_type)]
    converts = [(events, f) for f in _conversion_fields(d, events_record)]
    lineage: Lineage = {labels.ALL_FIELDS: every_row, d.identity_column: [(events, d.identity)],
                        d.label: converts}
    if d.population == "not-converted":
        lineage[labels.ALL_FIELDS] = every_row + converts
    for column in d.columns():
        if column.measure is not None:
            lineage[column.name] = [(events, column.measure)]
        if column.attribute is not None and d.profiles is not None:
            lineage[column.name] = [(d.profiles.dataset_id, column.attribute)]
    if d.profiles is not None:
        lineage[labels.ALL_FIELDS].append((d.profiles.dataset_id, d.profiles.identity))
    return lineage


def _conversion_fields(d: FeatureDefinition, events: DatasetRecord) -> list[str]:
    """The event fields the conversion reads: the event type, or the condition's fields (a
    path under map or array access cut to the field that holds it)."""
    if not d.conversion.condition:
        return [d.event_type]
    known = {p for p, _ in events.schema.leaves()}
    found: set[str] = set()
    for node in conv.parse_condition(d.conversion.condition).find_all(exp.Column, exp.Dot):
        dotted = conv.column_path(node)
        if dotted is None or (isinstance(node.parent, exp.Dot) and conv.column_path(node.parent)):
            continue  # not a field, or part of a longer path found at its top
        parts = dotted.split(".")
        held = (".".join(parts[:n]) for n in range(len(parts), 0, -1))
        field = next((p for p in held if p in known), None)
        if field is not None:
            found.add(field)
    return sorted(found)
