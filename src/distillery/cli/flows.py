"""Commands for dataflows: `export`, `flows ...`, `scheduler`, `connection ...`."""

from __future__ import annotations

import signal
import threading
from typing import Any

import typer

from distillery.cli.context import fail, out, state, table
from distillery.flows import connections as conns
from distillery.flows.dataflows import Dataflows
from distillery.flows.discovery import latest_export
from distillery.flows.mapping import parse_rules
from distillery.flows.store import DataflowRecord, RunRecord

flows_app = typer.Typer(help="Saved dataflows (exports and sources), runs and schedules.",
                        no_args_is_help=True)
connection_app = typer.Typer(help="Named storage connections (secrets stay in the environment "
                             "or the home's secrets.yaml).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("export")(export)
    app.command("scheduler")(scheduler)
    app.add_typer(flows_app, name="flows")
    app.add_typer(connection_app, name="connection")


def run_info(r: RunRecord) -> dict[str, Any]:
    """A run as a JSON-able dict."""
    return {"id": r.id, "dataflow": r.dataflow, "kind": r.kind, "state": r.state,
            "trigger": r.trigger, "started_at": r.started_at, "finished_at": r.finished_at,
            "duration_s": r.duration_s, "rows": r.rows, "bytes": r.bytes, "files": r.files,
            "error": r.error, "details": r.details}


def flow_info(f: DataflowRecord) -> dict[str, Any]:
    """A dataflow as a JSON-able dict."""
    return {"name": f.name, "kind": f.kind, "spec": f.spec, "schedule": f.schedule,
            "enabled": f.enabled, "next_run_at": f.next_run_at, "state": f.state,
            "created_at": f.created_at}


def _runs_table(title: str, runs: list[RunRecord]) -> Any:
    return table(title, ["run", "dataflow", "state", "started", "seconds", "rows", "bytes",
                         "files", "error"],
                 [[r.id, r.dataflow or "-", r.state, r.started_at[:19],
                   f"{r.duration_s:.2f}" if r.duration_s is not None else "", r.rows, r.bytes,
                   r.files, (r.error or "")[:200]] for r in runs])


def _emit_run(ctx: typer.Context, rec: RunRecord) -> None:
    st = state(ctx)
    info = run_info(rec)

    def render() -> None:
        out.print(_runs_table(f"Run {rec.id}", [rec]))
        if rec.details.get("folder"):
            out.print(f"exported to {rec.details['folder']}")
        if rec.details.get("message"):
            out.print(rec.details["message"])

    st.emit(info, render)
    if rec.state != "success":
        fail(f"run {rec.id} failed: {rec.error}")


def export(ctx: typer.Context,
           dataset: str = typer.Argument(..., help="Dataset name, id or table."),
           to: str = typer.Option(..., "--to", help="Destination folder URL (path, file://, "
                                  "s3://, az://, abfs://, gs://, or NAME:// of a connection)."),
           fmt: str = typer.Option("parquet", "--format", help="parquet, csv or json."),
           compression: str | None = typer.Option(None, "--compression", help="Parquet: gzip "
                                                  "(default), snappy, zstd, none; csv/json: "
                                                  "none (default) or gzip."),
           connection: str | None = typer.Option(None, "--connection", help="Named connection."),
           run_id: str | None = typer.Option(None, "--run-id", help="Run id; re-running it "
                                             "writes nothing new."),
           rows_per_file: int = typer.Option(1_000_000, "--rows-per-file", min=1)) -> None:
    """Export a dataset to {URL}/{dataset_id}/exportTime=.../part-NNNNN.<ext>."""
    flows = Dataflows(state(ctx).platform())
    rec = flows.export(dataset, to, run_id=run_id, format=fmt, compression=compression,
                       connection=connection, rows_per_file=rows_per_file)
    _emit_run(ctx, rec)


@flows_app.command("create-export")
def create_export(ctx: typer.Context, name: str = typer.Argument(...),
                  dataset: str = typer.Option(..., "--dataset"),
                  to: str = typer.Option(..., "--to", help="Destination folder URL."),
                  fmt: str = typer.Option("parquet", "--format"),
                  compression: str | None = typer.Option(None, "--compression"),
                  incremental: bool = typer.Option(False, "--incremental", help="Export only "
                                                   "what is new since the last run."),
                  connection: str | None = typer.Option(None, "--connection"),
                  rows_per_file: int = typer.Option(1_000_000, "--rows-per-file", min=1),
                  schedule: str | None = typer.Option(None, "--schedule", help="Cron (UTC) or "
                                                      "interval ('every 15m', '30s').")) -> None:
    """Save an export dataflow."""
    st = state(ctx)
    spec = {"kind": "export", "dataset": dataset, "url": to, "format": fmt,
            "compression": compression, "incremental": incremental, "connection": connection,
            "rows_per_file": rows_per_file}
    rec = Dataflows(st.platform()).create(name, spec, schedule=schedule)
    st.emit(flow_info(rec), lambda: out.print(f"Dataflow {name} (export of {dataset}) saved."))


@flows_app.command("create-source")
def create_source(ctx: typer.Context, name: str = typer.Argument(...),
                  source: str = typer.Option(..., "--from", help="Folder URL to watch."),
                  dataset: str = typer.Option(..., "--dataset"),
                  rules: list[str] = typer.Option([], "--map", help="'EXPRESSION -> FIELD', "
                                                  "e.g. 'prediction -> _tenant.propensity'."),
                  fmt: str | None = typer.Option(None, "--format", help="csv, parquet or json "
                                                 "(default: by file suffix)."),
                  recursive: bool = typer.Option(True, "--recursive/--no-recursive"),
                  pattern: str | None = typer.Option(None, "--pattern", help="Glob, e.g. "
                                                     "'*.csv'."),
                  error_threshold: float | None = typer.Option(None, "--error-threshold"),
                  connection: str | None = typer.Option(None, "--connection"),
                  schedule: str | None = typer.Option(None, "--schedule")) -> None:
    """Save a source dataflow: each new file of a folder becomes one batch."""
    st = state(ctx)
    spec = {"kind": "source", "url": source, "dataset": dataset, "mapping": parse_rules(rules),
            "format": fmt, "recursive": recursive, "pattern": pattern,
            "error_threshold": error_threshold, "connection": connection}
    rec = Dataflows(st.platform()).create(name, spec, schedule=schedule)
    st.emit(flow_info(rec), lambda: out.print(f"Dataflow {name} (source into {dataset}) saved."))


@flows_app.command("list")
def flows_list(ctx: typer.Context) -> None:
    """List the sandbox's dataflows."""
    st = state(ctx)
    items = [flow_info(f) for f in Dataflows(st.platform()).list()]
    st.emit(items, lambda: out.print(table(
        "Dataflows", ["name", "kind", "dataset", "url", "schedule", "enabled", "next run"],
        [[i["name"], i["kind"], i["spec"]["dataset"], i["spec"]["url"], i["schedule"] or "-",
          i["enabled"], (i["next_run_at"] or "")[:19]] for i in items])))


@flows_app.command("show")
def flows_show(ctx: typer.Context, name: str = typer.Argument(...),
               limit: int = typer.Option(10, "--limit", help="Runs to show.")) -> None:
    """Show a dataflow and its latest runs."""
    st = state(ctx)
    flows = Dataflows(st.platform())
    info = flow_info(flows.get(name))
    runs = flows.runs(name, limit)
    info["runs"] = [run_info(r) for r in runs]

    def render() -> None:
        for key in ("name", "kind", "schedule", "enabled", "next_run_at"):
            out.print(f"{key}: {info[key]}")
        for key, value in info["spec"].items():
            out.print(f"  {key}: {value}")
        out.print(_runs_table("Runs", runs))

    st.emit(info, render)


@flows_app.command("set")
def flows_set(ctx: typer.Context, name: str = typer.Argument(...),
              schedule: str | None = typer.Option(None, "--schedule"),
              no_schedule: bool = typer.Option(False, "--no-schedule"),
              enabled: bool | None = typer.Option(None, "--enable/--disable")) -> None:
    """Change a dataflow's schedule or switch it on or off."""
    st = state(ctx)
    rec = Dataflows(st.platform()).update(name, schedule=schedule, clear_schedule=no_schedule,
                                          enabled=enabled)
    st.emit(flow_info(rec), lambda: out.print(f"Dataflow {name}: schedule {rec.schedule or '-'}"
                                              f", {'enabled' if rec.enabled else 'disabled'}."))


@flows_app.command("delete")
def flows_delete(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Delete a dataflow and its run history."""
    st = state(ctx)
    rec = Dataflows(st.platform()).delete(name)
    st.emit(flow_info(rec), lambda: out.print(f"Dataflow {name} deleted."))


@flows_app.command("run")
def flows_run(ctx: typer.Context, name: str = typer.Argument(...),
              run_id: str | None = typer.Option(None, "--run-id")) -> None:
    """Run a dataflow now (exit code 1 if the run failed)."""
    rec = Dataflows(state(ctx).platform()).run(name, run_id=run_id)
    _emit_run(ctx, rec)


@flows_app.command("runs")
def flows_runs(ctx: typer.Context, name: str | None = typer.Argument(None),
               limit: int = typer.Option(20, "--limit")) -> None:
    """Run history (of one dataflow, or of all), newest first."""
    st = state(ctx)
    runs = Dataflows(st.platform()).runs(name, limit)
    st.emit([run_info(r) for r in runs], lambda: out.print(_runs_table("Runs", runs)))


@flows_app.command("run-due")
def flows_run_due(ctx: typer.Context) -> None:
    """Run every scheduled dataflow that is due (for cron or CI); exit 1 if one failed."""
    st = state(ctx)
    runs = Dataflows(st.platform()).run_due()
    st.emit([run_info(r) for r in runs], lambda: out.print(
        _runs_table("Runs", runs) if runs else "Nothing was due."))
    if any(r.state != "success" for r in runs):
        raise typer.Exit(1)


@flows_app.command("latest")
def flows_latest(ctx: typer.Context, dataset: str = typer.Argument(..., help="Dataset name "
                                                                   "or id."),
                 source: str = typer.Option(..., "--from", help="The export destination URL."),
                 connection: str | None = typer.Option(None, "--connection"),
                 verify: bool = typer.Option(False, "--verify", help="Check every sha256.")
                 ) -> None:
    """The newest complete export of a dataset (as a reader finds it)."""
    st = state(ctx)
    p = st.platform()
    found = p.catalog.find_dataset(dataset)
    dataset_id = found.id if found else dataset
    folder = latest_export(source, dataset_id, home=p.home, connection=connection,
                           verify=verify)
    if folder is None:
        fail(f"no complete export of dataset {dataset!r} under {source}")
    info = {"url": folder.url, "export_time": folder.export_time, "run_id": folder.run_id,
            "rows": folder.rows, "snapshot": folder.manifest.get("snapshot"),
            "files": folder.files}
    st.emit(info, lambda: out.print(f"{folder.url} ({folder.rows} rows, run {folder.run_id})\n"
                                    + "\n".join(folder.files)))


def scheduler(ctx: typer.Context,
              poll: float = typer.Option(5.0, "--poll", help="Seconds between checks for new "
                                         "or changed dataflows."),
              max_runs: int | None = typer.Option(None, "--max-runs", help="Stop after this "
                                                   "many runs.")) -> None:
    """Run scheduled dataflows as they come due, until stopped (Ctrl-C or SIGTERM)."""
    st = state(ctx)
    flows = Dataflows(st.platform())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        count = flows.serve(poll_seconds=poll, stop=stop, max_runs=max_runs)
    except KeyboardInterrupt:
        count = None
    st.emit({"runs": count}, lambda: out.print(f"Scheduler stopped after {count} run(s)."))


@connection_app.command("add")
def connection_add(ctx: typer.Context, name: str = typer.Argument(...),
                   protocol: str = typer.Option(..., "--protocol", help="file, s3, az or gs."),
                   url: str | None = typer.Option(None, "--url", help="Base URL; NAME://path "
                                                  "then resolves under it."),
                   endpoint_url: str | None = typer.Option(None, "--endpoint-url"),
                   options: list[str] = typer.Option([], "--option", help="KEY=VALUE (not "
                                                     "secret)."),
                   secrets: list[str] = typer.Option([], "--secret", help="KEY=env:VARIABLE "
                                                     "or KEY=secret:NAME."),
                   ) -> None:
    """Add or replace a named connection (secret references only, never secret values)."""
    st = state(ctx)
    p = st.platform()
    conn = conns.make_connection(name, {
        "protocol": protocol, "url": url, "endpoint_url": endpoint_url,
        "options": _pairs(options, "--option"), "secrets": _pairs(secrets, "--secret")})
    conns.save_connection(p.home, name, conn)
    st.emit({"name": name, **conn.model_dump()},
            lambda: out.print(f"Connection {name} ({protocol}) saved."))


@connection_app.command("list")
def connection_list(ctx: typer.Context) -> None:
    """List named connections (secret references, not values)."""
    st = state(ctx)
    items = [{"name": k, **v.model_dump()}
             for k, v in conns.load_connections(st.platform().home).items()]
    st.emit(items, lambda: out.print(table(
        "Connections", ["name", "protocol", "url", "endpoint", "secrets"],
        [[i["name"], i["protocol"], i["url"] or "", i["endpoint_url"] or "",
          ", ".join(f"{k}={v}" for k, v in i["secrets"].items())] for i in items])))


@connection_app.command("remove")
def connection_remove(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Remove a named connection."""
    st = state(ctx)
    conns.remove_connection(st.platform().home, name)
    st.emit({"name": name, "removed": True}, lambda: out.print(f"Connection {name} removed."))


def _pairs(items: list[str], option: str) -> dict[str, Any]:
    out_: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"{option} {item!r} must be KEY=VALUE")
        out_[key.strip()] = value
    return out_
