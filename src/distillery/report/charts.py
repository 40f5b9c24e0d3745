"""Plotly helpers shared by the sections: one look for every figure.

Figures are built with `plotly.graph_objects` and stay Python objects until `render` writes
them as JSON; plotly.js itself is embedded once per report, so nothing is fetched when the
file is opened.
"""

from __future__ import annotations

from typing import Any

TEMPLATE = "plotly_white"
HEIGHT = 420


def figure(*traces: Any, title: str, x: str = "", y: str = "", height: int = HEIGHT,
           **layout: Any) -> Any:
    """A figure with the report's layout: white template, titled axes, legend on top."""
    import plotly.graph_objects as go

    fig = go.Figure(list(traces))
    defaults = {"margin": {"l": 60, "r": 30, "t": 60, "b": 50},
                "legend": {"orientation": "h", "y": -0.18}}
    fig.update_layout(template=TEMPLATE, title={"text": title, "x": 0.01}, height=height,
                      **{**defaults, **layout})
    # Only the primary axes: a secondary axis (yaxis2) keeps the title its trace gave it.
    if x:
        fig.update_layout(xaxis_title=x)
    if y:
        fig.update_layout(yaxis_title=y)
    return fig


def bar_height(categories: int, per: int = 26, base: int = 160) -> int:
    """A horizontal bar chart's height that leaves each category a readable row."""
    return max(HEIGHT, base + per * categories)


def go() -> Any:
    """`plotly.graph_objects`, imported only when a report is built."""
    import plotly.graph_objects as graph_objects

    return graph_objects
