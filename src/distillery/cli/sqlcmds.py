"""Query templates and query runs: `distillery template ...` and `distillery queries`.

`template run --async` submits the run and starts a detached worker process
(`distillery template worker RUN_ID`) that runs it and records its state, so the command
returns at once; `distillery queries` lists runs with their state, elapsed time, rows and
error code, and `queries --run ID --wait` waits for one to finish.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated, Any

import typer

from distillery.cli.context import fail, out, state, table
from distillery.sql.templates import DONE, QueryRun

template_app = typer.Typer(help="Save and run query templates ($name parameters).",
                           no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(template_app, name="template")
    app.command("queries")(queries)


def _run_row(run: QueryRun) -> list[Any]:
    elapsed = f"{run.elapsed_ms / 1000:.2f}s" if run.elapsed_ms is not None else ""
    return [run.id, run.template or "", run.state, run.submitted_at[:19], elapsed,
            "" if run.rows is None else run.rows, run.error_code or "",
            (run.error_message or "")[:80]]


_RUN_COLUMNS = ["id", "template", "state", "submitted", "elapsed", "rows", "error", "message"]


@template_app.command("save")
def template_save(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Template name."),
    sql: str = typer.Argument(..., help="The SQL, with $name parameters; '-' reads stdin."),
    replace: bool = typer.Option(False, "--replace", help="Replace a template of that name."),
) -> None:
    """Save SQL as a query template."""
    st = state(ctx)
    text = typer.get_text_stream("stdin").read() if sql == "-" else sql
    saved = st.platform().sql.save_template(name, text, replace=replace)
    st.emit({"name": saved.name, "parameters": saved.parameters, "updated_at": saved.updated_at},
            lambda: out.print(f"template {saved.name!r} saved (parameters: "
                              f"{', '.join('$' + p for p in saved.parameters) or 'none'})"))


@template_app.command("list")
def template_list(ctx: typer.Context) -> None:
    """List the saved query templates."""
    st = state(ctx)
    items = st.platform().sql.templates.all()
    st.emit([{"name": t.name, "parameters": t.parameters, "updated_at": t.updated_at}
             for t in items],
            lambda: out.print(table(None, ["name", "parameters", "updated"],
                                    [[t.name, ", ".join(t.parameters), t.updated_at[:19]]
                                     for t in items])))


@template_app.command("run")
def template_run(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Template name."),
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="A parameter value, k=v (repeat for each parameter).")] = None,
    run_async: bool = typer.Option(False, "--async", help="Return at once; a detached worker "
                                   "process runs the query (see `distillery queries`)."),
) -> None:
    """Run a query template with parameter values."""
    st = state(ctx)
    values = _params(param or [])
    service = st.platform().sql
    if not run_async:
        run = service.query_run(service.run_template(name, values))
        _emit_run(st, run)
        if run.state == "FAILED":
            raise typer.Exit(1)
        return
    # The values are checked here, so a bad call fails now rather than in the worker.
    run_id = service.templates.submit_template(name, values)
    _spawn_worker(st, run_id)
    _emit_run(st, service.query_run(run_id))


@template_app.command("worker", hidden=True)
def template_worker(ctx: typer.Context, run_id: str = typer.Argument(...)) -> None:
    """Run a submitted query run (started by `template run --async`)."""
    state(ctx).platform(create=False).sql.templates.execute(run_id)


def queries(
    ctx: typer.Context,
    run_id: str | None = typer.Option(None, "--run", help="Show one run."),
    wait: bool = typer.Option(False, "--wait", help="With --run: wait until it finishes."),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds --wait waits at most."),
    limit: int = typer.Option(50, "--limit", help="How many runs to list, newest first."),
) -> None:
    """List query runs: state, elapsed time, rows and error code."""
    st = state(ctx)
    service = st.platform().sql
    if run_id is not None:
        run = service.wait_for_run(run_id, timeout) if wait else service.query_run(run_id)
        _emit_run(st, run)
        if wait and run.state not in DONE:
            fail(f"query run {run_id} is still {run.state} after {timeout:g}s")
        return
    runs = service.query_runs(limit)
    st.emit([r.to_dict() for r in runs],
            lambda: out.print(table(None, _RUN_COLUMNS, [_run_row(r) for r in runs])))


def _emit_run(st: Any, run: QueryRun) -> None:
    st.emit(run.to_dict(), lambda: out.print(table(None, _RUN_COLUMNS, [_run_row(run)])))


def _params(items: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--param {item!r} must be written name=value")
        values[key.strip().lstrip("$")] = value
    return values


def _spawn_worker(st: Any, run_id: str) -> None:
    """Start `distillery template worker RUN_ID` detached from this process, so it goes on
    after the command returns; its output goes to the sandbox's logs folder."""
    platform = st.platform()
    argv = [sys.executable, "-m", "distillery", "--home", str(platform.home), "--sandbox",
            platform.sandbox, "template", "worker", run_id]
    log = platform.root / "logs" / f"query-run-{run_id}.log"
    with log.open("ab") as sink:
        subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink,
                         start_new_session=True)
