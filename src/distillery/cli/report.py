"""`distillery report`: one self-contained HTML file showing the whole loop."""

from __future__ import annotations

from pathlib import Path

import typer

from distillery.cli.context import err, out, state, table


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("report")(report)


def report(
    ctx: typer.Context,
    output: Path | None = typer.Option(None, "--output", "-o", help="HTML file to write "
                                       "(default: {sandbox}/reports/report.html)."),
    events: str | None = typer.Option(None, "--events", help="Events dataset (default: "
                                      "experience_events, else the first event dataset)."),
    model: str | None = typer.Option(None, "--model", help="Registered model (default: "
                                     "propensity)."),
) -> None:
    """Write the HTML report: data, EDA, training sets, model, scores, audiences, activation.

    It opens without a network. Sections whose step has not run yet say what to run. Prints
    the file's path (--json: the path and every section).
    """
    from distillery.report import build_report

    st = state(ctx)
    result = build_report(st.platform(), output, events=events, model=model)

    def render() -> None:
        # The sections go to stderr so that stdout is only the path: `open $(distillery
        # report)` works.
        err.print(table(None, ["section", "status", "plots", "note"],
                        [[s.title, s.status, len(s.figures), s.notes[0] if s.notes and
                          s.status != "ok" else ""] for s in result.sections]))
        out.print(str(result.path), highlight=False, soft_wrap=True)

    st.emit(result.to_dict(), render)
