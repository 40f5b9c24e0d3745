"""Plots of a reach table: the score histogram with cumulative reach above and below each bin,
and the propensity-reach surface (people between any two bin edges). PNG through matplotlib,
HTML through Plotly (its JavaScript embedded, so the file opens offline).
"""

from __future__ import annotations

from pathlib import Path

from distillery.audiences.errors import AudienceError
from distillery.audiences.reach import Reach


def plot(reach: Reach, path: str | Path) -> Path:
    """Write the reach plot to `path` (.png or .html) and return it."""
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix == ".png":
        _png(reach, out)
    elif suffix in (".html", ".htm"):
        _html(reach, out)
    else:
        raise AudienceError(f"plot file {out.name!r} must end in .png or .html")
    return out


def _labels(reach: Reach) -> list[str]:
    return [f"{b.lower:.2f}" for b in reach.bins]


def _png(reach: Reach, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (hist, surf) = plt.subplots(1, 2, figsize=(13, 5))
    centers = [(b.lower + b.upper) / 2 for b in reach.bins]
    width = (reach.high - reach.low) / max(len(reach.bins), 1)
    hist.bar(centers, [b.people for b in reach.bins], width=width * 0.9, color="#7a9cc6",
             label="people in bin")
    hist.plot([b.lower for b in reach.bins], [b.above for b in reach.bins], "o-",
              color="#d1495b", label="people with score >= bin start")
    hist.plot([b.upper for b in reach.bins], [b.below for b in reach.bins], "s-",
              color="#2e8b57", label="people with score < bin end")
    hist.set_xlabel(reach.score)
    hist.set_ylabel("people")
    hist.set_title(f"Reach of {reach.score} in {reach.source}")
    hist.legend(fontsize=8)
    grid = reach.surface()
    image = surf.imshow(grid, origin="lower", cmap="viridis",
                        extent=(reach.low, reach.high, reach.low, reach.high))
    surf.set_xlabel("upper threshold")
    surf.set_ylabel("lower threshold")
    surf.set_title("people between thresholds")
    fig.colorbar(image, ax=surf, label="people")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def _html(reach: Reach, out: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        f"Reach of {reach.score} in {reach.source}", "People between thresholds"))
    labels = _labels(reach)
    fig.add_trace(go.Bar(x=labels, y=[b.people for b in reach.bins], name="people in bin",
                         customdata=[b.expected for b in reach.bins],
                         hovertemplate="%{y} people, %{customdata:.1f} expected conversions"),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=labels, y=[b.above for b in reach.bins], name="score >= bin start",
                             mode="lines+markers"), row=1, col=1)
    fig.add_trace(go.Scatter(x=labels, y=[b.below for b in reach.bins], name="score < bin end",
                             mode="lines+markers"), row=1, col=1)
    edges = [f"{e:.2f}" for e in reach.edges]
    fig.add_trace(go.Heatmap(z=reach.surface(), x=edges, y=edges, colorscale="Viridis",
                             name="between", hovertemplate="from %{y} to %{x}: %{z} people"),
                  row=1, col=2)
    fig.update_xaxes(title_text=reach.score, row=1, col=1)
    fig.update_xaxes(title_text="upper threshold", row=1, col=2)
    fig.update_yaxes(title_text="lower threshold", row=1, col=2)
    fig.write_html(out, include_plotlyjs=True, full_html=True)
