"""Incremental featurization: per-person running aggregates kept as a dataset, updated from
the events' new snapshots only, from which features as of any cutoff on its grain follow.

The state has one row per (person, event type, day) with the events' count, first and last
time, and measure sums: aggregates that combine by adding (counts, sums) or by min/max (times).
An update aggregates only the files the events dataset gained since the state's snapshot
(`tables.files_between`) and appends those rows; nothing restarts, unlike the reference's
template whose running counts start again in every increment. Features are then the same
long-form aggregation as over raw events (pit.py), reading state rows instead, so for a cutoff
at a day boundary they equal a full recompute exactly.

Every state row records the events snapshot it brings the state up to (`through_version`): the
state's own data says how far it got, so an update that died before its commit is simply run
again. If the events lost files since (a batch replaced or reverted), the state is rebuilt from
the current snapshot.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlglot import exp

from distillery.features import fields
from distillery.features.errors import FeatureError
from distillery.features.pit import DAY_US, Source, measure_column, raw_source
from distillery.features.sqltree import Params, aliased, arrow, col, reader, served
from distillery.features.timeparse import micros
from distillery.lake import tables
from distillery.lake.catalog import DatasetRecord
from distillery.lake.schema import infer_schema

if TYPE_CHECKING:
    from distillery.features.definition import FeatureDefinition
    from distillery.platform import Platform

TAG = "feature_state"
_S, _R = "s", "r"


class StateConfig(BaseModel):
    """What a state aggregates (stored in the state dataset's tags)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: str
    events_id: str
    identity: str
    timestamp: str = "timestamp"
    event_type: str = "eventType"
    measures: tuple[str, ...] = ()
    grain_seconds: int = 86_400

    @property
    def grain_us(self) -> int:
        """The bucket width in microseconds."""
        return self.grain_seconds * 1_000_000


@dataclass(frozen=True)
class StateUpdate:
    """What an update did.

    Attributes:
        state: The state dataset.
        mode: "created", "appended", "rebuilt" or "current" (nothing new).
        previous_version: The events snapshot the state was at before (None when new).
        events_version: The events snapshot it is at now.
        files_read: Event files aggregated.
        rows_written: State rows written.
    """

    state: str
    mode: str
    previous_version: int | None
    events_version: int
    files_read: int
    rows_written: int


def state_schema(config: StateConfig) -> pa.Schema:
    """The Arrow schema of a state dataset."""
    columns = [("person", pa.string()), ("event_type", pa.string()), ("bucket_us", pa.int64()),
               ("n", pa.int64()), ("last_us", pa.int64()), ("first_us", pa.int64())]
    columns += [(measure_column(i), pa.float64()) for i in range(len(config.measures))]
    return pa.schema([*columns, ("through_version", pa.int64())])


def update_state(platform: Platform, name: str, events: str | None = None, *,
                 identity: str | None = None, timestamp: str = "timestamp",
                 event_type: str = "eventType",
                 measures: tuple[str, ...] | list[str] | None = None) -> StateUpdate:
    """Bring a state dataset up to the events' current snapshot, creating it if needed.

    Args:
        platform: The platform.
        name: The state dataset.
        events: The events dataset (needed to create the state; checked otherwise).
        identity: The person field (default: the events' primary identity).
        timestamp: The event time field.
        event_type: The event type field.
        measures: Numeric fields to sum (default: the XDM order value when present).

    Raises:
        FeatureError: a bad option, or options that differ from the existing state's.
    """
    existing = platform.lake.catalog.find_dataset(name)
    if existing is None:
        if events is None:
            raise FeatureError(f"state {name!r} does not exist; name its events dataset "
                               "(--events) to create it")
        config = _new_config(platform, events, identity, timestamp, event_type, measures)
        return _write(platform, name, config, None, "created")
    config = read_config(existing)
    _check_same(name, config, platform, events, identity, measures)
    record = platform.dataset(config.events_id)
    done = watermark(platform, existing)
    if done == record.version:
        return StateUpdate(name, "current", done, done, 0, 0)
    path = platform.lake.path(record)
    if done is None or _lost_files(path, done, record.version):
        return _write(platform, name, config, done, "rebuilt")
    new = tables.files_between(path, done, record.version)
    return _write(platform, name, config, done, "appended", new)


def read_config(record: DatasetRecord) -> StateConfig:
    """A state dataset's configuration.

    Raises:
        FeatureError: the dataset is not a feature state.
    """
    data = record.tags.get(TAG)
    if data is None:
        raise FeatureError(f"dataset {record.name!r} is not a feature state (no {TAG!r} tag)")
    try:
        return StateConfig.model_validate(data)
    except ValidationError as exc:
        raise FeatureError(f"the state configuration of {record.name!r} is invalid: "
                           f"{exc.errors()[0]['msg']}") from None


def watermark(platform: Platform, record: DatasetRecord) -> int | None:
    """The events snapshot a state has aggregated through (None when it holds no rows)."""
    with served(platform, record) as state:
        query = exp.select(exp.Max(this=col("through_version", _S)).as_("v")).from_(
            aliased(state, _S))
        found = arrow(platform, query, Params(), f"the watermark of state {record.name!r}")
    value = found.column(0)[0].as_py()
    return None if value is None else int(value)


def state_source(platform: Platform, name: str, d: FeatureDefinition, cutoff: datetime,
                 params: Params, stack: ExitStack) -> Source:
    """The state rows before `cutoff`, shaped as `pit.long_form` reads them.

    Raises:
        FeatureError: the state aggregates other fields than the definition uses, or the cutoff
            or a window does not fall on the state's grain.
    """
    record = platform.dataset(name)
    config = read_config(record)
    _check_matches(config, d, name)
    cut_us = micros(cutoff)
    if cut_us % config.grain_us or any(w * DAY_US % config.grain_us for w in d.windows_days):
        raise FeatureError(f"state {name!r} counts events per {config.grain_seconds} s, so it "
                           f"answers cutoffs on that grain (e.g. midnight UTC) only; got "
                           f"{cutoff.isoformat()}. Compute from the events instead (no state).")
    table = stack.enter_context(served(platform, record))
    columns: list[exp.Expr] = [col("person", _S).as_("person"),
                                     col("event_type", _S).as_("event_type"),
                                     col("bucket_us", _S).as_("t_us"), col("n", _S).as_("n"),
                                     col("last_us", _S).as_("last_us"),
                                     col("first_us", _S).as_("first_us")]
    columns += [col(measure_column(config.measures.index(m)), _S).as_(measure_column(i))
                for i, m in enumerate(d.measures)]
    query = (exp.select(*columns).from_(aliased(table, _S))
             .where(col("bucket_us", _S) < params(cut_us, "cutoff_us")))
    return Source(query, weighted=True)


def _new_config(platform: Platform, events: str, identity: str | None, timestamp: str,
                event_type: str, measures: Any) -> StateConfig:
    record = platform.dataset(events)
    fields.check_featurizable(record)
    person = fields.identity_path(record, identity)
    fields.check_timestamp(record, timestamp)
    fields.check_event_type(record, event_type)
    chosen = fields.default_measures(record) if measures is None else list(measures)
    for m in chosen:
        fields.check_measure(record, m)
    return StateConfig(events=record.name, events_id=record.id, identity=person,
                       timestamp=timestamp, event_type=event_type, measures=tuple(chosen))


def _check_same(name: str, config: StateConfig, platform: Platform, events: str | None,
                identity: str | None, measures: Any) -> None:
    if events is not None and platform.dataset(events).id != config.events_id:
        raise FeatureError(f"state {name!r} aggregates dataset {config.events!r}, not "
                           f"{events!r}")
    if identity is not None and identity != config.identity:
        raise FeatureError(f"state {name!r} aggregates identity {config.identity!r}, not "
                           f"{identity!r}")
    missing = set(measures or ()) - set(config.measures)
    if missing:
        raise FeatureError(f"state {name!r} does not sum measures {sorted(missing)} (it sums "
                           f"{list(config.measures)}); use another state")


def _check_matches(config: StateConfig, d: FeatureDefinition, name: str) -> None:
    wanted = {"events dataset": (config.events_id, d.events_id),
              "identity": (config.identity, d.identity),
              "timestamp": (config.timestamp, d.timestamp),
              "event type field": (config.event_type, d.event_type)}
    for what, (have, need) in wanted.items():
        if have != need:
            raise FeatureError(f"state {name!r} has {what} {have!r}, the definition {need!r}")
    missing = set(d.measures) - set(config.measures)
    if missing:
        raise FeatureError(f"state {name!r} does not sum measures {sorted(missing)}")


def _lost_files(path: Any, done: int, current: int) -> bool:
    """Whether files of snapshot `done` are gone at `current` (a batch replaced or reverted)."""
    return bool(set(tables.file_uris(path, done)) - set(tables.file_uris(path, current)))


def _write(platform: Platform, name: str, config: StateConfig, previous: int | None,
           mode: str, files: list[str] | None = None) -> StateUpdate:
    record = platform.dataset(config.events_id)
    version = record.version
    chosen = platform.lake.files(record, version) if files is None else files
    schema = infer_schema(state_schema(config), f"Feature state {name}")
    written = 0
    if chosen:
        with served(platform, record, version, files=chosen) as events:
            params = Params()
            rows = reader(platform, _rollup(config, events, version, params), params,
                          f"the feature state from {record.name!r}")
            # The batch id names the snapshot range: an update run twice at once, or retried
            # after it committed, lands once.
            batch_id = f"fstate-{fields.slug(name)[:60]}-{mode}-{previous}-{version}"
            batch = platform.lake.write(
                name, rows, schema=schema, batch_id=batch_id,
                mode={"created": "create", "rebuilt": "overwrite"}.get(mode, "append"),
                tags={TAG: config.model_dump(mode="json")},
                description=f"Per person, event type and day aggregates of {record.name!r} "
                            "for incremental featurization.")
            written = batch.output_records
    elif mode == "created":
        platform.lake.create_dataset(name, schema, tags={TAG: config.model_dump(mode="json")})
    return StateUpdate(name, mode, previous, version, len(chosen), written)


def _rollup(config: StateConfig, events: exp.Expression, version: int,
            params: Params) -> exp.Select:
    """Per person, event type and bucket: count, last and first time, measure sums."""
    rows = raw_source(config, events, None, params).query
    grain = exp.Literal.number(config.grain_us)
    bucket = exp.Mul(this=exp.Cast(this=exp.Floor(this=exp.Div(this=col("t_us", _R),
                                                                 expression=grain)),
                                   to=exp.DataType.build("bigint")),
                     expression=grain.copy())
    columns: list[exp.Expr] = [
        col("person", _R).as_("person"), col("event_type", _R).as_("event_type"),
        bucket.as_("bucket_us"), exp.Count(this=exp.Star()).as_("n"),
        exp.Max(this=col("t_us", _R)).as_("last_us"),
        exp.Min(this=col("t_us", _R)).as_("first_us")]
    columns += [exp.Sum(this=col(measure_column(i), _R)).as_(measure_column(i))
                for i in range(len(config.measures))]
    columns.append(exp.Cast(this=params(version, "version"),
                            to=exp.DataType.build("bigint")).as_("through_version"))
    return (exp.select(*columns).from_(rows.subquery(_R))
            .group_by(col("person", _R), col("event_type", _R), bucket.copy()))
