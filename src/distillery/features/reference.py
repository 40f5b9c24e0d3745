"""The reference's row-level training set, for users who want its numbers.

One row per person: for converters the conversion row (the first, when there are several), for
the others one row drawn at random with a seed. Each row carries the reference's 14 features,
computed over the person's events up to and including that row (running counts, and minutes
since the last event of a type with TIME_BETWEEN_PREVIOUS_MATCH semantics: 0 on a matching row,
minutes since the last match otherwise, NULL if none), and the label `subscriptionOccurred`
(whether the person converted at any time).

This set leaks the label, as the reference's does: a converter's row comes 60 s after the event
that triggered the conversion, so its recency features say "just now". Its definition records
that its features run through the row itself, and `distillery features check` flags it.

Fixes over the reference: event type names as the generator writes them (the reference misspells
two), ties in time broken by event id so a seed gives the same rows every time, and the random
row drawn from an md5 of the seed and the event id, which every engine computes alike.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlglot import exp

from distillery.features import fields
from distillery.features.definition import THROUGH_ROW, Conversion, FeatureColumn, FeatureDefinition
from distillery.features.errors import FeatureError
from distillery.features.sqltree import (
    Params,
    aliased,
    as_double,
    col,
    micros_of,
    path,
    reader,
    served,
)
from distillery.features.training import Lineage, TrainingSet, carry_labels
from distillery.features.writer import write_set
from distillery.lake.catalog import DatasetRecord
from distillery.lake.labels import ALL_FIELDS

if TYPE_CHECKING:
    from distillery.platform import Platform

CONVERSION = "web.formFilledOut"
LABEL = "subscriptionOccurred"
IDENTITY = "userId"
# (running count, recency, event type) in the reference's column order.
FEATURES: tuple[tuple[str, str, str], ...] = (
    ("emailsReceived", "minutes_since_emailSent", "directMarketing.emailSent"),
    ("emailsOpened", "minutes_since_emailOpened", "directMarketing.emailOpened"),
    ("emailsClicked", "minutes_since_emailClick", "directMarketing.emailClicked"),
    ("productsViewed", "minutes_since_productView", "commerce.productViews"),
    ("propositionInteracts", "minutes_since_propositionInteract",
     "decisioning.propositionInteract"),
    ("propositionDismissed", "minutes_since_propositionDismiss",
     "decisioning.propositionDismiss"),
    ("webLinkClicks", "minutes_since_linkClick", "web.webinteraction.linkClicks"),
)
_MINUTE_US = 60_000_000
_E, _V = "e", "v"


def reference_columns() -> list[FeatureColumn]:
    """The reference's 14 feature columns: 7 running counts, then 7 recencies."""
    counts = [FeatureColumn(c, "ref_count", t, events_until=THROUGH_ROW) for c, _, t in FEATURES]
    recency = [FeatureColumn(r, "ref_recency", t, events_until=THROUGH_ROW)
               for _, r, t in FEATURES]
    return counts + recency


def build_reference_training_set(platform: Platform, events: str, output: str, *,
                                 seed: int = 0, identity: str | None = None,
                                 conversion_type: str = CONVERSION,
                                 replace: bool = False) -> TrainingSet:
    """Build the reference-compatible set and write it as dataset `output`.

    Args:
        platform: The platform.
        events: The events dataset (ExperienceEvent class: needs `_id`, `timestamp`,
            `eventType`).
        output: The training set's dataset name.
        seed: Seed of the random row drawn for people who did not convert.
        identity: The person field (default: the events' primary identity).
        conversion_type: The conversion event type.
        replace: Overwrite `output` if it is a training set with the same columns.

    Raises:
        FeatureError: a bad option or input; nothing is written.
    """
    started = time.perf_counter()
    record = platform.dataset(events)
    fields.check_featurizable(record)
    person = fields.identity_path(record, identity)
    fields.check_timestamp(record, "timestamp")
    fields.check_event_type(record, "eventType")
    fields.leaf(record, "_id", "event id", "the ExperienceEvent class's _id")
    if seed < 0:
        raise FeatureError(f"--seed must be non-negative, got {seed}")
    d = FeatureDefinition(
        kind="reference", events=record.name, events_id=record.id, identity=person,
        identity_namespace=fields.identity_namespace(record, person),
        event_types=tuple(t for _, _, t in FEATURES), windows_days=(), population="all",
        conversion=Conversion(event_types=(conversion_type,),
                              matched_event_types=(conversion_type,)),
        seed=seed, identity_column=IDENTITY, label=LABEL,
        snapshots={record.name: record.version})
    with served(platform, record, record.version) as name:
        params = Params()
        rows = reader(platform, query(d, name, params), params,
                      f"the reference training set from {record.name!r}")
        written = write_set(platform, output, rows, d, replace=replace,
                            description=f"Reference-compatible row-level training set from "
                                        f"{record.name!r} (leaks the label; see the leakage "
                                        "check).")
    carry_labels(platform, d, written, _label_lineage(d))
    counts = _counts(platform, written, d)
    return TrainingSet(dataset=written.name, dataset_id=written.id, rows=counts[0],
                       positives=counts[1], definition=d, seconds=time.perf_counter() - started)


def query(d: FeatureDefinition, events_table: exp.Expression, params: Params) -> exp.Select:
    """The reference's featurization as one SQLGlot tree over `events_table`."""
    assert d.seed is not None
    conv = params(d.conversion.event_types[0], "conversion")
    columns = [col(IDENTITY, _V).as_(IDENTITY), col("eventType", _V).as_("eventType"),
               col("timestamp", _V).as_("timestamp"), *_features(params),
               *_selection(conv, params(str(d.seed), "seed"))]
    ranked = exp.select(*columns).from_(_events(d, events_table).subquery(_V))
    keep = exp.or_(
        exp.and_(col(LABEL, "r").eq(1), col("eventType", "r").eq(conv.copy()),
                 col("conversions_so_far", "r").eq(1)),
        exp.and_(col(LABEL, "r").eq(0), col("draw", "r").eq(col("first_draw", "r"))))
    out = [col(IDENTITY, "r"), col("eventType", "r"), col("timestamp", "r")]
    out += [col(c.name, "r") for c in reference_columns()] + [col(LABEL, "r")]
    return exp.select(*out).from_(ranked.subquery("r")).where(keep)


def _features(params: Params) -> list[exp.Expr]:
    """Running counts, then minutes since the last match (0 on a matching row, NULL if none)."""
    et, t_us = col("eventType", _V), col("t_us", _V)
    types = {t: params(t, "type") for _, _, t in FEATURES}
    out: list[exp.Expr] = []
    for count, _, t in FEATURES:
        running = _running(exp.Sum(this=_flag(et, types[t])))
        out.append(exp.Cast(this=running, to=exp.DataType.build("bigint")).as_(count))
    for _, recency, t in FEATURES:
        matched = exp.If(this=exp.EQ(this=et.copy(), expression=types[t].copy()),
                         true=t_us.copy())
        since = exp.Sub(this=t_us.copy(), expression=_running(exp.Max(this=matched)))
        out.append(exp.Div(this=as_double(since),
                           expression=exp.Literal.number(_MINUTE_US)).as_(recency))
    return out


def _selection(conv: exp.Expression, seed: exp.Expression) -> list[exp.Expr]:
    """The label, and what picks each person's row: the first conversion is the conversion
    row where the running count of conversions is 1; the random row has the person's smallest
    md5(seed, event id). Neither needs a second sort of the person's rows."""
    et, person = col("eventType", _V), col(IDENTITY, _V)
    converted = exp.Window(this=exp.Max(this=_flag(et, conv)), partition_by=[person])
    draw = exp.MD5(this=exp.Concat(expressions=[seed, col("_id", _V)]))
    return [exp.Cast(this=converted, to=exp.DataType.build("bigint")).as_(LABEL),
            _running(exp.Sum(this=_flag(et, conv))).as_("conversions_so_far"),
            draw.copy().as_("draw"),
            exp.Window(this=exp.Min(this=draw), partition_by=[person.copy()]).as_("first_draw")]


def _events(d: FeatureDefinition, events_table: exp.Expression) -> exp.Select:
    person = path(d.identity, _E)
    return (exp.select(person.copy().as_(IDENTITY), path("eventType", _E).as_("eventType"),
                       path("timestamp", _E).as_("timestamp"), path("_id", _E).as_("_id"),
                       micros_of(path("timestamp", _E)).as_("t_us"))
            .from_(aliased(events_table, _E))
            .where(exp.Not(this=exp.Is(this=person, expression=exp.Null()))))


def _flag(et: exp.Expression, value: exp.Expression) -> exp.Expression:
    return exp.If(this=exp.EQ(this=et.copy(), expression=value.copy()),
                  true=exp.Literal.number(1), false=exp.Literal.number(0))


def _time_order() -> list[exp.Ordered]:
    return [exp.Ordered(this=col("t_us", _V)), exp.Ordered(this=col("_id", _V))]


def _running(agg: exp.Expression) -> exp.Window:
    """`agg` over the person's rows up to and including the current one, in time order."""
    return exp.Window(this=agg, partition_by=[col(IDENTITY, _V)],
                      order=exp.Order(expressions=_time_order()),
                      spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING",
                                          end="CURRENT ROW"))


def _label_lineage(d: FeatureDefinition) -> Lineage:
    """Which event fields the set's columns copy; every row is chosen by person, event type,
    time and event id (the seeded draw), so those fields shape the whole set."""
    e = d.events_id
    return {ALL_FIELDS: [(e, d.identity), (e, "eventType"), (e, "timestamp"), (e, "_id")],
            IDENTITY: [(e, d.identity)], "eventType": [(e, "eventType")],
            "timestamp": [(e, "timestamp")]}


def _counts(platform: Platform, record: DatasetRecord, d: FeatureDefinition) -> tuple[int, int]:
    with served(platform, record) as name:
        params = Params()
        q = exp.select(exp.Count(this=exp.Star()).as_("rows"),
                       exp.Sum(this=col(LABEL)).as_("positives")).from_(aliased(name, "t"))
        found = reader(platform, q, params, f"counts of {record.name!r}").read_all()
    rows, positives = found.column(0)[0].as_py(), found.column(1)[0].as_py()
    return int(rows or 0), int(positives or 0)

