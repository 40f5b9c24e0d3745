"""The `distillery` command: thin wrappers that parse options, call the library and print.

Every command takes `--home`, `--sandbox`, `--json` and `--debug` (before the command name or
after it). Errors print one line and exit non-zero; `--debug` shows the traceback.
"""

from __future__ import annotations

import sys

import typer

from distillery.cli import (
    audiences,
    datasets,
    features,
    flows,
    generate,
    models,
    pipeline,
    query,
    report,
    scoring,
    serve,
    sqlcmds,
)
from distillery.cli.context import State, fail, run_guarded

app = typer.Typer(
    name="distillery",
    help="Local-first AI/ML data pipeline enrichment: datasets, Query Service, models, "
         "profiles, audiences.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    home: str | None = typer.Option(None, "--home", help="Home folder (default "
                                    "$DISTILLERY_HOME or ./.distillery)."),
    sandbox: str | None = typer.Option(None, "--sandbox", help="Sandbox (default prod)."),
    json_output: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    engine: str | None = typer.Option(None, "--engine", help="Query engine: duckdb (default) "
                                      "or spark (also DISTILLERY__ENGINE or config.yaml)."),
) -> None:
    """Distillery."""
    ctx.obj = State(home=home, sandbox=sandbox, json=json_output, debug=debug, engine=engine)


# One module per area; each adds its own commands.
for _module in (datasets, query, sqlcmds, generate, features, flows, models, scoring, audiences,
                serve, report, pipeline):
    _module.register(app)


def run() -> None:
    """Entry point that turns library errors into one-line messages."""
    run_guarded(app, sys.argv[1:])


__all__ = ["app", "fail", "run"]
