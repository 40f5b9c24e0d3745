"""Steps 5 and 6: the latest scores (their distribution, deciles, the batch that brought them
in, the profiles they enrich), and the reach of a propensity threshold (step 7's first look)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
from sqlglot import exp

from distillery.report import charts
from distillery.report.context import ReportContext, field_path
from distillery.report.parts import Figure, NotYetRun, Section, Table, number, percent

SCORE_FIELD = "propensity"
HISTOGRAM_BINS = 40
REFERENCE_RULE = "_{tenant}.propensity >= 0.2 and _{tenant}.propensity <= 0.93"


def collect(ctx: ReportContext, section: Section) -> None:
    """The latest scoring run's distribution, the run history and the ingestion."""
    from distillery import scoring

    record = ctx.datasets.get(scoring.SCORES_DATASET)
    if record is None or record.version < 0:
        raise NotYetRun("No scores yet: score every person with `distillery score` "
                        "(notebook 05).")
    runs = scoring.list_runs(ctx.platform.catalog)
    values = _latest_scores(ctx, record.table_name)
    if not len(values):
        raise NotYetRun("The score dataset is empty: run `distillery score` (notebook 05).")
    section.metrics += _score_metrics(values, runs[-1] if runs else None)
    section.figures.append(_histogram(values))
    section.tables.append(_deciles(values))
    section.tables.append(Table("Scoring runs (oldest first)", [
        "run", "model", "version", "as of", "scored at", "people", "delivery", "batch"],
        [[r.id, r.model_name, r.model_version, r.as_of, r.scored_at, number(r.rows),
          r.delivery, r.batch_id or "-"] for r in runs]))
    if runs and runs[-1].batch_id:
        section.tables.append(_batch(ctx, runs[-1].batch_id))
    section.notes.append(_profiles_note(ctx))


def _latest_scores(ctx: ReportContext, table: str) -> np.ndarray:
    """Propensities of the latest scoring (all rows when no row says when it was scored)."""
    tenant = f"_{ctx.platform.tenant}"
    score, at = field_path(tenant, SCORE_FIELD), field_path(tenant, "scoredAt")
    latest = exp.select(exp.Max(this=at.copy())).from_(exp.to_table(table)).subquery()
    only_latest = exp.or_(exp.EQ(this=at.copy(), expression=latest),
                          exp.Is(this=latest.copy(), expression=exp.Null()))
    tree = exp.select(score.as_("p")).from_(exp.to_table(table)).where(
        exp.and_(only_latest, exp.Not(this=exp.Is(this=score.copy(), expression=exp.Null()))))
    return np.asarray(ctx.query(tree).column("p").to_numpy(), dtype=float)


def _score_metrics(values: np.ndarray, run: Any) -> list[tuple[str, str]]:
    out = [("people scored", number(len(values))), ("mean score", number(float(values.mean()), 4)),
           ("median score", number(float(np.median(values)), 4)),
           ("highest score", number(float(values.max()), 4)),
           ("at or above 0.2 (the reference's threshold)",
            percent(float((values >= 0.2).mean()), 2))]
    if run is not None:
        out[:0] = [("model", f"{run.model_name} v{run.model_version}"),
                   ("features as of", run.as_of), ("delivery", run.delivery)]
    return out


def _histogram(values: np.ndarray) -> Figure:
    go = charts.go()
    top = _nice_ceiling(float(values.max()))
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(0.0, top))
    fig = charts.figure(go.Bar(x=((edges[:-1] + edges[1:]) / 2).tolist(), y=counts.tolist(),
                               width=float(edges[1] - edges[0]) * 0.95, name="people"),
                        title="Distribution of the latest scores", x="propensity (calibrated "
                        "probability of converting)", y="people")
    return Figure("score_distribution", "How many people got each propensity in the latest "
                                        "scoring run", plotly=fig)


def _nice_ceiling(value: float, step: float = 0.05) -> float:
    """The smallest multiple of `step` above `value` (at least `step`, at most 1)."""
    return min(1.0, max(step, math.ceil(value / step - 1e-9) * step))


def _deciles(values: np.ndarray) -> Table:
    order = np.sort(values)
    rows = []
    for k, part in enumerate(np.array_split(order, 10), start=1):
        if len(part):
            rows.append([k, number(len(part)), number(float(part.min()), 4),
                         number(float(part.max()), 4), number(float(part.mean()), 4)])
    return Table("Score deciles (1 = lowest tenth)", ["decile", "people", "min", "max",
                                                      "mean"], rows)


def _batch(ctx: ReportContext, batch_id: str) -> Table:
    b = ctx.platform.batch(batch_id)
    return Table("Ingestion of the latest scores (step 6)", [
        "batch", "state", "input records", "ingested", "failed", "files", "completed"],
        [[b.id, b.state, number(b.input_records), number(b.output_records),
          number(b.failed_records), b.input_files, b.completed_at or "-"]])


def _profiles_note(ctx: ReportContext) -> str:
    from distillery.profiles import UNIFIED

    record = ctx.datasets.get(UNIFIED)
    if record is None or record.version < 0:
        return ("The unified profiles have not been built yet, so the scores enrich no "
                "profile: run `distillery profile refresh` (notebook 06).")
    score = field_path(f"_{ctx.platform.tenant}", SCORE_FIELD)
    tree = exp.select(exp.Count(this=exp.Star()).as_("people"),
                      exp.Count(this=score).as_("scored")).from_(exp.to_table(record.table_name))
    row = ctx.query(tree).to_pylist()[0]
    return (f"{row['scored']:,} of {row['people']:,} unified profiles carry a propensity "
            "(the latest score wins when a person was scored more than once).")


def reach(ctx: ReportContext, section: Section) -> None:
    """People and expected conversions at or above each propensity threshold."""
    from distillery.audiences import Audiences
    from distillery.profiles import UNIFIED

    record = ctx.datasets.get(UNIFIED)
    if record is None or record.version < 0 or not _has_score(record.schema.to_arrow(),
                                                               ctx.platform.tenant):
        raise NotYetRun("No scored profiles yet: score (notebook 05), then refresh the "
                        "unified profiles with `distillery profile refresh` (notebook 06).")
    score = field_path(f"_{ctx.platform.tenant}", SCORE_FIELD)
    top = ctx.query(exp.select(exp.Max(this=score).as_("m")).from_(
        exp.to_table(record.table_name))).column("m")[0].as_py()
    if top is None:
        raise NotYetRun("The unified profiles carry no propensity yet: refresh them after "
                        "scoring (notebook 06).")
    audiences = Audiences(ctx.platform)
    table = audiences.reach(source=record.name, high=_nice_ceiling(float(top)))
    section.figures.append(_reach_figure(table.bins))
    section.tables.append(Table("Reach per bin", [
        "from", "to", "people in bin", "people at or above", "expected conversions at or above",
        "people below the bin's top"],
        [[number(b.lower, 4), number(b.upper, 4), number(b.people), number(b.above),
          number(b.expected_above, 1), number(b.below)] for b in table.bins]))
    size = audiences.size(REFERENCE_RULE, source=record.name)
    section.metrics += [("people in the profiles", number(table.total)),
                        ("with a score", number(table.scored)),
                        ("expected conversions (sum of scores)",
                         number(sum(b.expected for b in table.bins), 1)),
                        ("the reference's rule selects", number(size))]
    rule = REFERENCE_RULE.replace("{tenant}", ctx.platform.tenant)
    section.notes.append(f"The reference's rule ({rule}) was tuned to leaky, uncalibrated "
                         "scores; with calibrated probabilities, pick thresholds from this "
                         "curve instead.")


def _has_score(schema: pa.Schema, tenant: str) -> bool:
    name = f"_{tenant}"
    if name not in schema.names or not pa.types.is_struct(schema.field(name).type):
        return False
    struct = schema.field(name).type
    return any(struct.field(i).name == SCORE_FIELD for i in range(struct.num_fields))


def _reach_figure(bins: list[Any]) -> Figure:
    go = charts.go()
    x = [b.lower for b in bins]
    fig = charts.figure(
        go.Bar(x=[(b.lower + b.upper) / 2 for b in bins], y=[b.people for b in bins],
               name="people in bin", opacity=0.4, width=(bins[0].upper - bins[0].lower) * 0.9),
        go.Scatter(x=x, y=[b.above for b in bins], mode="lines+markers",
                   name="people at or above the threshold", line={"shape": "hv"}),
        go.Scatter(x=x, y=[b.expected_above for b in bins], mode="lines+markers",
                   name="expected conversions at or above", yaxis="y2",
                   line={"shape": "hv", "dash": "dot"}),
        title="Reach: who a propensity threshold selects", x="propensity threshold",
        y="people", yaxis2={"title": "expected conversions", "overlaying": "y",
                            "side": "right", "showgrid": False})
    return Figure("reach", "People and expected conversions at or above each threshold (the "
                           "reference's propensity-reach analysis)", plotly=fig)
