"""Steps 1 and 2: what the sandbox holds, and the reference's EDA views of the events
(funnel, ordered co-occurrence, correlation of per-person counts with converting)."""

from __future__ import annotations

from typing import Any

from distillery.errors import DistilleryError
from distillery.report import charts
from distillery.report.context import ReportContext
from distillery.report.parts import Figure, NotYetRun, Section, Table, number, percent

# Tags that say what a dataset is for, as the steps that wrote it set them.
_ROLES = (("ground_truth", "synthetic ground truth"), ("feature_definition", "training set"),
          ("scores", "scores"), ("profiles_internal", "profiles (internal)"))


def overview(ctx: ReportContext, section: Section) -> None:
    """Datasets of the sandbox, and the events at a glance."""
    if not ctx.datasets:
        raise NotYetRun("The sandbox holds no datasets yet: generate synthetic data "
                        "(`distillery generate`, notebook 01) or ingest your own events.")
    section.tables.append(_datasets_table(ctx))
    eda = ctx.eda()
    o = eda.overview
    converters = sum(eda.tables["user_counts"].column("converted").to_pylist())
    people = o["people"] or 0
    share = percent(converters / people if people else None)
    section.metrics += [
        ("events dataset", eda.dataset), ("events", number(o["events"])),
        ("people", number(people)), ("events per person", number(o["events_per_person"], 2)),
        ("event types", number(o["event_types"])),
        ("people converting", f"{converters:,} ({share})"),
        ("first event", str(o["first_event"])), ("last event", str(o["last_event"])),
    ]
    section.notes.append(f"Converting means {eda.conversion}; people are counted by "
                         f"{eda.identity}.")
    section.figures.append(_event_types_figure(eda.tables["event_types"].to_pylist()))


def _datasets_table(ctx: ReportContext) -> Table:
    rows = []
    for d in sorted(ctx.datasets.values(), key=lambda d: d.created_at):
        batches = [b for b in ctx.platform.catalog.batches(d.id) if b.state == "success"]
        role = next((label for tag, label in _ROLES if d.tags.get(tag)), "")
        rows.append([d.name, d.schema.cls, _rows(ctx, d), len(batches),
                     d.version if d.version >= 0 else "-", number(d.profile_enabled), role])
    return Table("Datasets", ["dataset", "class", "rows", "batches", "snapshot",
                              "profile-enabled", "role"], rows)


def _rows(ctx: ReportContext, dataset: Any) -> str:
    try:
        return number(ctx.rows(dataset))
    except DistilleryError:
        # A dataset the Query Service cannot serve (a damaged table, say) still gets its row
        # in the list; its count is unknown rather than the section lost.
        return "?"


def _event_types_figure(rows: list[dict[str, Any]]) -> Figure:
    go = charts.go()
    rows = rows[::-1]
    names = [r["event_type"] for r in rows]
    fig = charts.figure(
        go.Bar(y=names, x=[r["people"] for r in rows], orientation="h", name="people"),
        go.Bar(y=names, x=[r["events"] for r in rows], orientation="h", name="events"),
        title="People and events per event type", x="count", barmode="group",
        height=charts.bar_height(2 * len(names), per=14))
    return Figure("event_types", "People and events per event type", plotly=fig)


def funnel(ctx: ReportContext, section: Section) -> None:
    """The reference's funnel: distinct people at each step."""
    eda = ctx.eda()
    rows = eda.tables["funnel"].to_pylist()
    go = charts.go()
    fig = charts.figure(go.Funnel(y=[r["event_type"] for r in rows],
                                  x=[r["people"] for r in rows],
                                  textinfo="value+percent initial"),
                        title="Funnel: distinct people per step")
    section.figures.append(Figure("funnel", "Funnel (people at each step; the share is of "
                                            "the first step)", plotly=fig))
    section.tables.append(Table("Funnel steps", ["step", "event type", "people", "events",
                                                 "of first", "of previous"],
                                [[r["step"], r["event_type"], number(r["people"]),
                                  number(r["events"]), percent(r["share_of_first"]),
                                  percent(r["share_of_previous"])] for r in rows]))
    section.notes += [n for n in eda.notes if n.startswith("funnel")]


def cooccurrence(ctx: ReportContext, section: Section) -> None:
    """P(B at or after A | A): the reference's ordered co-occurrence heatmap."""
    table = ctx.eda().tables["cooccurrence"].to_pylist()
    names = list(dict.fromkeys(r["first_type"] for r in table))
    grid: list[list[float | None]] = [[None] * len(names) for _ in names]
    for r in table:
        grid[names.index(r["first_type"])][names.index(r["then_type"])] = r["probability"]
    go = charts.go()
    fig = charts.figure(go.Heatmap(z=grid, x=names, y=names, zmin=0, zmax=1,
                                   colorscale="Viridis", colorbar={"title": "P(B | A)"}),
                        title="P(B at or after A | A)", x="then (B)", y="first (A)",
                        height=620, margin={"l": 230, "r": 30, "t": 60, "b": 200})
    section.figures.append(Figure("cooccurrence", "Ordered co-occurrence: of the people with "
                                                  "an A, the share with a B at or after it",
                                  plotly=fig))


def correlations(ctx: ReportContext, section: Section) -> None:
    """Pearson correlation of per-person counts of each event type with converting."""
    eda = ctx.eda()
    rows = eda.tables["correlation"].to_pylist()
    shown = [r for r in rows if r["correlation"] is not None][::-1]
    go = charts.go()
    fig = charts.figure(go.Bar(y=[r["event_type"] for r in shown],
                               x=[r["correlation"] for r in shown], orientation="h"),
                        title="Correlation of per-person counts with converting",
                        x="Pearson correlation", height=charts.bar_height(len(shown)))
    section.figures.append(Figure("correlations", f"Per-person event counts against "
                                                  f"converting ({eda.conversion})", plotly=fig))
    section.tables.append(Table(
        "Mean events per person", ["event type", "correlation", "converters", "others"],
        [[r["event_type"], number(r["correlation"]), number(r["mean_count_converters"]),
          number(r["mean_count_others"])] for r in rows]))
    section.notes += [n for n in eda.notes if "correlation" in n]
