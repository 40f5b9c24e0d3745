"""Step 7, last part: the destinations and every activation run (who was sent, who entered or
exited, who was kept out by consent)."""

from __future__ import annotations

from typing import Any

from distillery.report import charts
from distillery.report.context import ReportContext
from distillery.report.parts import Figure, NotYetRun, Section, Table, number

_COUNTS = ("entered", "exited", "updated", "excluded", "sent")
_SHOWN_RUNS = 30


def collect(ctx: ReportContext, section: Section) -> None:
    """Destinations, runs and their counts."""
    from distillery.destinations import Destinations, RunStore

    runs = RunStore(ctx.platform.catalog).list()
    if not runs:
        raise NotYetRun("No activation yet: configure a destination and run `distillery "
                        "activate` (notebook 07).")
    oldest_first = runs[::-1][-_SHOWN_RUNS:]
    section.figures.append(_runs_figure(oldest_first))
    section.tables.append(Table("Activation runs (newest first)", [
        "started", "audience", "destination", "evaluation", "mode", "state", "dry run",
        *_COUNTS, "rejected", "seconds", "error"],
        [[r.started_at, r.audience, r.destination, r.job, r.mode or "-", r.state,
          number(r.dry_run), *(number(getattr(r, c)) for c in _COUNTS), number(r.rejected),
          number(r.duration_s, 2), r.error or ""] for r in runs[:_SHOWN_RUNS]]))
    configured = Destinations(ctx.platform)
    section.tables.append(Table("Destinations", ["destination", "type", "where", "format"],
                                [_destination_row(configured, d["name"], d["type"])
                                 for d in configured.list()]))
    refused = [r for r in runs if r.state in ("refused", "failed")]
    section.metrics += [("runs", number(len(runs))),
                        ("people sent (all runs)", number(sum(r.sent for r in runs))),
                        ("kept out by consent (last run)", number(runs[0].excluded)),
                        ("refused or failed runs", number(len(refused)))]


def _destination_row(configured: Any, name: str, kind: str) -> list[Any]:
    # The parsed spec, not the stored JSON: the stored one leaves out defaults (csv, ...).
    spec = configured.get(name).spec
    return [name, kind, getattr(spec, "url", "-"), getattr(spec, "format", "-")]


def _runs_figure(runs: list[Any]) -> Figure:
    go = charts.go()
    labels = [f"{i + 1}. {r.audience} to {r.destination}" + (" (dry run)" if r.dry_run else "")
              for i, r in enumerate(runs)]
    fig = charts.figure(*[go.Bar(x=labels, y=[getattr(r, c) for r in runs], name=c)
                          for c in _COUNTS],
                        title="Activation runs", x="run (oldest first)", y="people",
                        barmode="group")
    return Figure("activation_runs", "Per activation run: people who entered or exited the "
                                     "audience, were updated, were kept out by consent, and "
                                     "were sent", plotly=fig)
