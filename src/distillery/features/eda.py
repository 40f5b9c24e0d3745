"""Exploratory data analysis of any events dataset: the reference's views, as tables and plots.

- overview: events, distinct people (the reference's "distinct users" counted events), event
  types, time range;
- event_types: events and distinct people per event type;
- funnel: people and events per step (default: the reference's emailSent -> emailOpened ->
  emailClicked -> formFilledOut, with the event type names spelt as the generator writes them);
- cooccurrence: for each ordered pair (A, B) the people with an A at or before some B, and
  P(B after A | A), the reference's self-join computed from each person's first A and last B;
- correlation: per-person counts of each event type against converting (Pearson), with the mean
  count of converters and of the others;
- user_counts: the per-person counts themselves (one row per person, one column per type).

Tables come back as Arrow (`EdaReport.df(name)` for pandas); plots are written as PNG and HTML
(see `eda_plots`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from distillery.features import fields
from distillery.features.conversion import event_type_condition, parse_condition, qualify
from distillery.features.errors import FeatureError
from distillery.features.sqltree import Params, aliased, arrow, micros_of, path, served

if TYPE_CHECKING:
    from distillery.platform import Platform

REFERENCE_FUNNEL = ("directMarketing.emailSent", "directMarketing.emailOpened",
                    "directMarketing.emailClicked", "web.formFilledOut")
DEFAULT_CONVERSION = "eventType = 'web.formFilledOut'"
VIEWS = ("event_types", "funnel", "cooccurrence", "correlation", "user_counts")
_E = "e"


@dataclass
class EdaReport:
    """The EDA of one events dataset.

    Attributes:
        dataset: The events dataset.
        identity: The person field used.
        conversion: The conversion used for the correlations.
        overview: Events, people, event types, first and last event.
        tables: View name -> Arrow table (see the module docstring).
        files: Plots and tables written.
        notes: What could not be computed, and why.
    """

    dataset: str
    identity: str
    conversion: str
    overview: dict[str, Any]
    tables: dict[str, pa.Table]
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def df(self, name: str) -> Any:
        """A view as a pandas DataFrame."""
        return self.tables[name].to_pandas()

    def to_dict(self, rows: int = 1000) -> dict[str, Any]:
        """A JSON-friendly form (user_counts summarised, other tables in full up to `rows`)."""
        tables = {k: v.slice(0, rows).to_pylist() for k, v in self.tables.items()
                  if k != "user_counts"}
        return {"dataset": self.dataset, "identity": self.identity,
                "conversion": self.conversion, "overview": self.overview, "tables": tables,
                "user_counts": {"rows": self.tables["user_counts"].num_rows,
                                "columns": self.tables["user_counts"].column_names},
                "files": [str(f) for f in self.files], "notes": self.notes}


def explore(platform: Platform, dataset: str, *, identity: str | None = None,
            conversion: str | None = None, conversion_types: list[str] | None = None,
            funnel: list[str] | None = None, output: Path | str | None = None,
            plots: bool = True) -> EdaReport:
    """Compute the EDA views of an events dataset and write their plots.

    Args:
        platform: The platform.
        dataset: The events dataset.
        identity: The person field (default: the schema's primary identity).
        conversion: A SQL condition on an event for the correlations (default: the
            reference's web.formFilledOut); or `conversion_types`.
        conversion_types: Event types that are conversions.
        funnel: Funnel steps (event types); default: the reference's when its types occur,
            else every type by decreasing people.
        output: Folder for plots and tables (default: {sandbox}/reports/eda/{dataset}).
        plots: Write PNG and HTML plots (tables are written as CSV/Parquet either way).

    Raises:
        FeatureError: a bad option or field.
    """
    record = platform.dataset(dataset)
    person = fields.identity_path(record, identity)
    fields.check_timestamp(record, "timestamp")
    fields.check_event_type(record, "eventType")
    with served(platform, record) as events:
        params = Params()
        converted = _conversion(record, conversion, conversion_types, params)
        long = arrow(platform, _per_person_type(events, person, converted), params,
                     f"per-person counts of {record.name!r}")
    report = EdaReport(record.name, person, _describe(conversion, conversion_types),
                       _overview(long), {})
    types = _event_types(long)
    known = pc.and_(pc.is_valid(long.column("person")), pc.is_valid(long.column("event_type")))
    names = types.column("event_type").to_pylist()
    counts, first, last, y, people = _matrices(long.filter(known), names)
    report.tables = {
        "event_types": types,
        "funnel": _funnel(types, funnel, report.notes),
        "cooccurrence": _cooccurrence(names, first, last, types),
        "correlation": _correlation(names, counts, y, report.notes),
        "user_counts": _user_counts(people, names, counts, y),
    }
    folder = Path(output) if output else platform.root / "reports" / "eda" / record.table_name
    from distillery.features import eda_plots

    report.files = eda_plots.write(report, folder, plots=plots)
    return report


def _conversion(record: Any, condition: str | None, types: list[str] | None,
                params: Params) -> exp.Expression:
    if condition and types:
        raise FeatureError("give either --conversion or --conversion-type, not both")
    if types:
        return event_type_condition("eventType", list(types), _E, params)
    return qualify(parse_condition(condition or DEFAULT_CONVERSION), record, _E)


def _describe(condition: str | None, types: list[str] | None) -> str:
    if types:
        return " or ".join(f"eventType = {t!r}" for t in types)
    return condition or DEFAULT_CONVERSION


def _overview(long: pa.Table) -> dict[str, Any]:
    """Events, people, event types and time range, from the per-(person, type) groups."""
    persons, kinds = long.column("person"), long.column("event_type")
    events = int(pc.sum(long.column("n")).as_py() or 0)
    row: dict[str, Any] = {
        "events": events,
        "people": pc.count_distinct(persons).as_py(),
        "event_types": pc.count_distinct(kinds).as_py(),
        "first_event": pc.min(long.column("first_time")).as_py(),
        "last_event": pc.max(long.column("last_time")).as_py(),
        "events_without_identity": int(pc.sum(long.column("n").filter(
            pc.is_null(persons))).as_py() or 0),
    }
    row["events_per_person"] = round(events / row["people"], 3) if row["people"] else None
    return row


def _event_types(long: pa.Table) -> pa.Table:
    """Events (with or without a person) and distinct people per event type."""
    grouped = long.filter(pc.is_valid(long.column("event_type"))).group_by("event_type").aggregate(
        [("n", "sum"), ("person", "count")])
    found = pa.table({"event_type": grouped.column("event_type").cast(pa.string()),
                      "events": grouped.column("n_sum").cast(pa.int64()),
                      "people": grouped.column("person_count").cast(pa.int64())})
    return found.sort_by([("people", "descending"), ("event_type", "ascending")])


def _per_person_type(events: exp.Expression, person: str,
                     converted: exp.Expression) -> exp.Select:
    """Per person and event type (either may be NULL): events, first and last time, and
    whether any converted. Every other view comes from these groups: one scan of the
    events rather than one per view."""
    who = path(person, _E)
    et = path("eventType", _E)
    ts = path("timestamp", _E)
    t_us = micros_of(ts.copy())
    return (exp.select(who.copy().as_("person"), et.copy().as_("event_type"),
                       exp.Count(this=exp.Star()).as_("n"),
                       exp.Min(this=t_us.copy()).as_("first_us"),
                       exp.Max(this=t_us).as_("last_us"),
                       exp.Min(this=ts.copy()).as_("first_time"),
                       exp.Max(this=ts).as_("last_time"),
                       exp.Max(this=exp.If(this=converted, true=exp.Literal.number(1),
                                           false=exp.Literal.number(0))).as_("converted"))
            .from_(aliased(events, _E))
            .group_by(who.copy(), et.copy()))


def _matrices(long: pa.Table, types: list[str]) -> tuple[np.ndarray, ...]:
    """(people x types) counts, first and last times; per-person conversion; the people."""
    encoded = pc.dictionary_encode(long.column("person").combine_chunks().cast(pa.string()))
    idx = encoded.indices.to_numpy().astype(np.int64)
    code = pc.index_in(long.column("event_type").combine_chunks().cast(pa.string()),
                       value_set=pa.array(types, pa.string())).to_numpy().astype(np.int64)
    shape = (len(encoded.dictionary), len(types))
    # Column-major: the views below read one event type's column at a time.
    counts = np.zeros(shape, dtype=np.int64, order="F")
    first = np.full(shape, np.inf, order="F")
    last = np.full(shape, -np.inf, order="F")
    counts[idx, code] = long.column("n").to_numpy()
    first[idx, code] = long.column("first_us").to_numpy().astype(np.float64)
    last[idx, code] = long.column("last_us").to_numpy().astype(np.float64)
    y = np.zeros(shape[0], dtype=np.int64)
    np.maximum.at(y, idx, long.column("converted").to_numpy().astype(np.int64))
    return counts, first, last, y, encoded.dictionary


def _funnel(types: pa.Table, steps: list[str] | None, notes: list[str]) -> pa.Table:
    by_type = {r["event_type"]: r for r in types.to_pylist()}
    if steps is None:
        present = [s for s in REFERENCE_FUNNEL if s in by_type]
        steps = list(REFERENCE_FUNNEL) if len(present) >= 2 else list(by_type)
    rows = []
    for i, step in enumerate(steps):
        found = by_type.get(step, {"people": 0, "events": 0})
        if step not in by_type:
            notes.append(f"funnel step {step!r} does not occur in the dataset")
        rows.append({"step": i + 1, "event_type": step, "people": found["people"],
                     "events": found["events"]})
    top = rows[0]["people"] if rows else 0
    for i, r in enumerate(rows):
        before = rows[i - 1]["people"] if i else top
        r["share_of_first"] = round(r["people"] / top, 6) if top else None
        r["share_of_previous"] = round(r["people"] / before, 6) if before else None
    schema = pa.schema([("step", pa.int64()), ("event_type", pa.string()),
                        ("people", pa.int64()), ("events", pa.int64()),
                        ("share_of_first", pa.float64()), ("share_of_previous", pa.float64())])
    return pa.Table.from_pylist(rows, schema=schema)


def _cooccurrence(names: list[str], first: np.ndarray, last: np.ndarray,
                  types: pa.Table) -> pa.Table:
    """People with an A at or before some B: their first A is at or before their last B."""
    people = dict(zip(names, types.column("people").to_pylist(), strict=True))
    rows = []
    for a, name_a in enumerate(names):
        for b, name_b in enumerate(names):
            both = int(np.count_nonzero(first[:, a] <= last[:, b]))
            rows.append({"first_type": name_a, "then_type": name_b, "people": both,
                         "probability": both / people[name_a] if people[name_a] else None})
    schema = pa.schema([("first_type", pa.string()), ("then_type", pa.string()),
                        ("people", pa.int64()), ("probability", pa.float64())])
    return pa.Table.from_pylist(rows, schema=schema)


def _correlation(names: list[str], counts: np.ndarray, y: np.ndarray,
                 notes: list[str]) -> pa.Table:
    converters = int(y.sum())
    if converters in (0, len(y)):
        notes.append("every person or no person converted: correlations are undefined")
    rows = []
    for k, name in enumerate(names):
        x = counts[:, k].astype(np.float64)
        rows.append({
            "event_type": name, "correlation": _pearson(x, y),
            "mean_count_converters": float(x[y == 1].mean()) if converters else None,
            "mean_count_others": float(x[y == 0].mean()) if converters < len(y) else None,
        })
    rows.sort(key=_strength)
    schema = pa.schema([("event_type", pa.string()), ("correlation", pa.float64()),
                        ("mean_count_converters", pa.float64()),
                        ("mean_count_others", pa.float64())])
    return pa.Table.from_pylist(rows, schema=schema)


def _strength(row: dict[str, Any]) -> float:
    value = row["correlation"]
    return -abs(value) if isinstance(value, float) else 0.0


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < 2:
        return None
    sx, sy = x.std(), y.std()
    if sx == 0 or sy == 0:
        return None
    value = float(((x - x.mean()) * (y - y.mean())).mean() / (sx * sy))
    return None if math.isnan(value) else value


def _user_counts(people: pa.Array, names: list[str], counts: np.ndarray,
                 y: np.ndarray) -> pa.Table:
    columns: dict[str, pa.Array] = {"person": people}
    for k, name in fields.slugs(names).items():
        columns[f"count__{name}"] = pa.array(counts[:, names.index(k)])
    columns["converted"] = pa.array(y)
    return pa.table(columns)
