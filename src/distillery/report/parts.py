"""What a report is made of: sections holding metrics, tables and figures.

Collectors (`distillery.report.sections`) fill these plain objects from what the sandbox
holds; `render` turns them into HTML. Keeping the two apart means the CLI's `--json` and the
tests can look at a report's content without parsing HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OK = "ok"
MISSING = "missing"
ERROR = "error"


class NotYetRun(Exception):
    """A section's step has not produced anything yet; the message says what to run."""


@dataclass
class Figure:
    """One plot: a Plotly figure (interactive) or a PNG (a plot drawn elsewhere, embedded).

    Attributes:
        id: Stable identifier (`data-plot` in the HTML; tests and links use it).
        title: Caption shown under the plot.
        plotly: A `plotly.graph_objects.Figure`, for kind "plotly".
        png: PNG bytes, for kind "png".
    """

    id: str
    title: str
    plotly: Any = None
    png: bytes | None = None

    @property
    def kind(self) -> str:
        """"plotly" or "png"."""
        return "png" if self.png is not None else "plotly"


@dataclass
class Table:
    """A small table: column names and rows of plain values."""

    title: str
    columns: list[str]
    rows: list[list[Any]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form."""
        return {"title": self.title, "columns": self.columns, "rows": self.rows}


@dataclass
class Section:
    """One part of the report, tied to a step of the workflow.

    Attributes:
        id: Anchor and `data-section` value.
        title: Heading.
        step: The workflow step(s) it shows, e.g. "2 EDA".
        status: "ok", "missing" (its step has not run) or "error" (collecting it failed).
        notes: What the reader should know: why it is missing, caveats, findings.
        metrics: (label, formatted value) pairs shown as tiles.
        figures: The plots.
        tables: The tables.
    """

    id: str
    title: str
    step: str
    status: str = OK
    notes: list[str] = field(default_factory=list)
    metrics: list[tuple[str, str]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (figures by id and kind, not their data)."""
        return {"id": self.id, "title": self.title, "step": self.step, "status": self.status,
                "notes": self.notes, "metrics": dict(self.metrics),
                "figures": [{"id": f.id, "title": f.title, "kind": f.kind}
                            for f in self.figures],
                "tables": [t.to_dict() for t in self.tables]}


def number(value: Any, digits: int = 3) -> str:
    """A value formatted for a tile or a cell: thousands separators, rounded floats."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def percent(value: float | None, digits: int = 1) -> str:
    """A share as a percentage."""
    return "-" if value is None else f"{100 * value:.{digits}f}%"
