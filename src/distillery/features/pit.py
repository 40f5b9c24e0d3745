"""The point-in-time feature query, built once as SQLGlot trees.

Shape, measured on 1,000,000 people and 10.6 million events on 2 cores: one wide GROUP BY per
person with a filtered aggregate per (event type, window) took 5 to 16 s, because DuckDB keeps
~70 aggregate states per person; grouping by (person, event type) with a handful of aggregates
(the "long form") takes about 1.5 s. So the engine computes the long form, and
`pivot.to_wide` turns it into one row per person; the time semantics (cutoff, windows,
recency, tenure) all live in these trees.

Sources. The aggregation reads rows `(person, event_type, t_us, ...)` from either the raw events
(one row per event, timestamps strictly before the cutoff) or the incremental state (one row per
person, event type and day, with counts, sums and first/last times). The aggregation tree is the
same for both; only the source differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlglot import exp

from distillery.features.definition import FeatureDefinition
from distillery.features.sqltree import (
    Params,
    aliased,
    as_double,
    col,
    filtered,
    micros_of,
    path,
)
from distillery.features.timeparse import micros
from distillery.lake.catalog import DatasetRecord

DAY_US = 86_400_000_000
MINUTE_US = 60_000_000
_E, _S = "e", "s"


@dataclass(frozen=True)
class Source:
    """Rows to aggregate.

    Attributes:
        query: A query yielding person, event_type, t_us and m_0.. (one per measure); with
            `weighted`, also n (events in the row), last_us and first_us.
        weighted: Whether each row stands for several events (the state) or one (raw events).
    """

    query: exp.Select
    weighted: bool


def measure_column(i: int) -> str:
    """The source column of the i-th measure."""
    return f"m_{i}"


class EventFields(Protocol):
    """Where a dataset keeps what features are made of (a definition, or a state's config)."""

    identity: str
    timestamp: str
    event_type: str
    measures: tuple[str, ...]


def raw_source(d: EventFields, events_table: exp.Expression, cutoff: datetime | None,
               params: Params) -> Source:
    """One row per event of a person (strictly before the cutoff, when there is one)."""
    person = path(d.identity, _E)
    ts = path(d.timestamp, _E)
    columns = [person.copy().as_("person"), path(d.event_type, _E).as_("event_type"),
               micros_of(ts.copy()).as_("t_us")]
    columns += [path(m, _E).as_(measure_column(i)) for i, m in enumerate(d.measures)]
    keep: exp.Expr = exp.Not(this=exp.Is(this=person, expression=exp.Null()))
    if cutoff is not None:
        # On the raw timestamp, not its microseconds, so the engine can skip row groups.
        keep = exp.and_(ts < params(cutoff, "cutoff"), keep)
    return Source(exp.select(*columns).from_(aliased(events_table, _E)).where(keep),
                  weighted=False)


def long_form(source: Source, d: FeatureDefinition, cutoff: datetime,
              params: Params) -> exp.Select:
    """Per person and event type: counts per window and in all history, minutes since the last
    event, days since the first, and measure sums per window.

    Columns: person, type_code (the event type's position in the definition's event types;
    NULL for any other type), n_{w}d.., n_all, recency_min, tenure_days, m_{i}_{w}d..,
    m_{i}_all. A code rather than the type's text keeps the result small.
    """
    cut_us = micros(cutoff)
    cut = params(cut_us, "cutoff_us")
    since = {w: params(cut_us - w * DAY_US, f"from_{w}d") for w in d.windows_days}

    def in_window(w: int | None) -> exp.Expression | None:
        return None if w is None else col("t_us", _S) >= since[w].copy()

    def count(w: int | None) -> exp.Expression:
        if not source.weighted:
            return filtered(exp.Count(this=exp.Star()), in_window(w))
        # SUM of a BIGINT is a 128-bit integer on DuckDB; counts fit 64 bits.
        return exp.Cast(this=filtered(exp.Sum(this=col("n", _S)), in_window(w)),
                        to=exp.DataType.build("bigint"))

    last = col("last_us" if source.weighted else "t_us", _S)
    first = col("first_us" if source.weighted else "t_us", _S)
    windows: list[int | None] = [*d.windows_days, None]
    code: exp.Expr = exp.Case(this=col("event_type", _S), ifs=[
        exp.If(this=params(t, "type"), true=exp.Literal.number(k))
        for k, t in enumerate(d.event_types)]) if d.event_types else exp.Null()
    out: list[exp.Expr] = [col("person", _S).as_("person"),
                           exp.Cast(this=code, to=exp.DataType.build("int")).as_("type_code")]
    out += [count(w).as_(f"n_{_w(w)}") for w in windows]
    out.append(exp.Div(this=as_double(cut.copy() - exp.Max(this=last)),
                       expression=exp.Literal.number(MINUTE_US)).as_("recency_min"))
    out.append(exp.Div(this=as_double(cut.copy() - exp.Min(this=first)),
                       expression=exp.Literal.number(DAY_US)).as_("tenure_days"))
    for i in range(len(d.measures)):
        m = col(measure_column(i), _S)
        out += [filtered(exp.Sum(this=m.copy()), in_window(w)).as_(f"m_{i}_{_w(w)}")
                for w in windows]
    subquery = source.query.subquery(_S)
    return (exp.select(*out).from_(subquery)
            .group_by(col("person", _S), col("event_type", _S)))


def conversions(d: FeatureDefinition, dataset: DatasetRecord, events_table: exp.Expression,
                cutoff: datetime, until: datetime, params: Params) -> exp.Select:
    """Per person with a conversion at or before `until`: conversions at or before the cutoff
    (`before`) and after it (`within`, i.e. in (cutoff, until])."""
    person = path(d.identity, _E)
    ts = path(d.timestamp, _E)
    cut = params(cutoff, "cutoff")
    keep = exp.and_(d.conversion.tree(dataset, d.event_type, _E, params),
                    exp.Not(this=exp.Is(this=person.copy(), expression=exp.Null())),
                    ts.copy() <= params(until, "until"))
    return (exp.select(
        person.copy().as_("person"),
        filtered(exp.Count(this=exp.Star()), ts.copy() <= cut).as_("before"),
        filtered(exp.Count(this=exp.Star()), ts.copy() > cut.copy()).as_("within"),
    ).from_(aliased(events_table, _E)).where(keep).group_by(person.copy()))


def event_type_summary(d: FeatureDefinition, dataset: DatasetRecord,
                       events_table: exp.Expression, cutoff: datetime, params: Params,
                       measures: tuple[str, ...] = ()) -> exp.Select:
    """Per event type: events strictly before the cutoff, events the conversion matches, and
    for each of `measures` the values it holds before the cutoff (column m_i)."""
    et = path(d.event_type, _E)
    before = path(d.timestamp, _E) < params(cutoff, "cutoff")
    matched = d.conversion.tree(dataset, d.event_type, _E, params)
    held = [filtered(exp.Count(this=path(m, _E)), before.copy()).as_(measure_column(i))
            for i, m in enumerate(measures)]
    return (exp.select(et.copy().as_("event_type"),
                       filtered(exp.Count(this=exp.Star()), before).as_("before"),
                       filtered(exp.Count(this=exp.Star()), matched).as_("matched"), *held)
            .from_(aliased(events_table, _E))
            .where(exp.Not(this=exp.Is(this=et.copy(), expression=exp.Null())))
            .group_by(et.copy()))


def _w(window: int | None) -> str:
    return "all" if window is None else f"{window}d"
