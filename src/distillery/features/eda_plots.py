"""EDA output files: each view as a table (CSV; the per-person counts as Parquet) and a plot
(PNG through matplotlib, HTML through Plotly).

matplotlib is used through its object API with the Agg canvas, so no display and no global
backend change; Plotly HTML files share one plotly.min.js written next to them (nothing is
fetched from the network when a file is opened). Both libraries are imported only here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from distillery.features.eda import EdaReport


def write(report: EdaReport, folder: Path, *, plots: bool = True) -> list[Path]:
    """Write every view's table, and its plots unless `plots` is off; return the files."""
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for name, table in report.tables.items():
        if name == "user_counts":
            target = folder / f"{name}.parquet"
            pq.write_table(table, target)
        else:
            target = folder / f"{name}.csv"
            pacsv.write_csv(table, target)
        files.append(target)
    if plots:
        for name, draw in _FIGURES.items():
            png, html = folder / f"{name}.png", folder / f"{name}.html"
            figure, interactive = draw(report)
            figure.savefig(png, dpi=110, bbox_inches="tight")
            interactive.write_html(html, include_plotlyjs="directory", full_html=True)
            files += [png, html]
    return files


def _canvas(width: float = 8, height: float = 5) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _event_types(report: EdaReport) -> tuple[Any, Any]:
    import plotly.graph_objects as go

    rows = report.tables["event_types"].to_pylist()[::-1]
    names = [r["event_type"] for r in rows]
    figure, ax = _canvas(9, max(3, 0.4 * len(rows) + 1))
    ax.barh(names, [r["people"] for r in rows], label="people")
    ax.set_xlabel("distinct people")
    ax.set_title(f"People per event type: {report.dataset}")
    interactive = go.Figure([
        go.Bar(y=names, x=[r["people"] for r in rows], orientation="h", name="people"),
        go.Bar(y=names, x=[r["events"] for r in rows], orientation="h", name="events"),
    ])
    interactive.update_layout(title=f"People and events per event type: {report.dataset}",
                              barmode="group")
    return figure, interactive


def _funnel(report: EdaReport) -> tuple[Any, Any]:
    import plotly.graph_objects as go

    rows = report.tables["funnel"].to_pylist()
    names = [r["event_type"] for r in rows]
    people = [r["people"] for r in rows]
    figure, ax = _canvas()
    ax.barh(names[::-1], people[::-1])
    for i, r in enumerate(rows[::-1]):
        share = r["share_of_first"]
        ax.text(r["people"], i, f" {r['people']:,}" + (f" ({share:.1%})" if share else ""),
                va="center")
    ax.set_xlabel("distinct people")
    ax.set_title(f"Funnel: {report.dataset}")
    interactive = go.Figure(go.Funnel(y=names, x=people, textinfo="value+percent initial"))
    interactive.update_layout(title=f"Funnel: {report.dataset}")
    return figure, interactive


def _cooccurrence(report: EdaReport) -> tuple[Any, Any]:
    import plotly.graph_objects as go

    table = report.tables["cooccurrence"].to_pylist()
    names = list(dict.fromkeys(r["first_type"] for r in table))
    grid = [[None] * len(names) for _ in names]
    for r in table:
        grid[names.index(r["first_type"])][names.index(r["then_type"])] = r["probability"]
    figure, ax = _canvas(10, 8)
    image = ax.imshow([[v if v is not None else float("nan") for v in row] for row in grid],
                      vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(names)), names, rotation=90)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("then (B)")
    ax.set_ylabel("first (A)")
    ax.set_title("P(B at or after A | A)")
    figure.colorbar(image, ax=ax)
    interactive = go.Figure(go.Heatmap(z=grid, x=names, y=names, zmin=0, zmax=1,
                                       colorbar={"title": "P(B | A)"}))
    interactive.update_layout(title=f"Ordered co-occurrence P(B at or after A | A): "
                                    f"{report.dataset}", xaxis_title="then (B)",
                              yaxis_title="first (A)")
    return figure, interactive


def _correlation(report: EdaReport) -> tuple[Any, Any]:
    import plotly.graph_objects as go

    rows = [r for r in report.tables["correlation"].to_pylist() if r["correlation"] is not None]
    names = [r["event_type"] for r in rows][::-1]
    values = [r["correlation"] for r in rows][::-1]
    figure, ax = _canvas(9, max(3, 0.4 * len(rows) + 1))
    ax.barh(names, values)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"Pearson correlation with converting ({report.conversion})")
    ax.set_title(f"Per-person counts vs conversion: {report.dataset}")
    interactive = go.Figure(go.Bar(y=names, x=values, orientation="h"))
    interactive.update_layout(title=f"Correlation of per-person counts with converting "
                                    f"({report.conversion})")
    return figure, interactive


def _user_counts(report: EdaReport) -> tuple[Any, Any]:
    import plotly.graph_objects as go

    rows = report.tables["correlation"].to_pylist()
    names = [r["event_type"] for r in rows]
    converters = [r["mean_count_converters"] or 0 for r in rows]
    others = [r["mean_count_others"] or 0 for r in rows]
    figure, ax = _canvas(9, max(3, 0.5 * len(rows) + 1))
    positions = range(len(names))
    ax.barh([p + 0.2 for p in positions], converters, height=0.4, label="converters")
    ax.barh([p - 0.2 for p in positions], others, height=0.4, label="others")
    ax.set_yticks(list(positions), names)
    ax.set_xlabel("mean events per person")
    ax.legend()
    ax.set_title(f"Events per person, converters vs others: {report.dataset}")
    interactive = go.Figure([go.Bar(y=names, x=converters, orientation="h", name="converters"),
                             go.Bar(y=names, x=others, orientation="h", name="others")])
    interactive.update_layout(title="Mean events per person, converters vs others",
                              barmode="group")
    return figure, interactive


_FIGURES = {"event_types": _event_types, "funnel": _funnel, "cooccurrence": _cooccurrence,
            "correlation": _correlation, "user_counts": _user_counts}
