"""Commands for the home, datasets, ingestion and batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from distillery.cli.context import fail, out, state, table
from distillery.lake import byo, xdm
from distillery.lake.catalog import BatchRecord, DatasetRecord
from distillery.lake.schema import Schema
from distillery.sql.pgwire import ensure_credentials

dataset_app = typer.Typer(help="List, describe, create and drop datasets.", no_args_is_help=True)
batch_app = typer.Typer(help="Inspect and revert batches.", no_args_is_help=True)

_CLASSES = {"event": xdm.experience_event_schema, "profile": xdm.profile_schema}


def register(app: typer.Typer) -> None:
    """Add these commands to the main app."""
    app.command("init")(init)
    app.command("ingest")(ingest)
    app.add_typer(dataset_app, name="dataset")
    app.add_typer(batch_app, name="batch")


def init(ctx: typer.Context) -> None:
    """Create (or open) the home and its sandbox."""
    st = state(ctx)
    p = st.platform()
    ensure_credentials(p.home)  # logins of `distillery serve` (see `distillery credentials`)
    st.emit({"home": str(p.home), "sandbox": p.sandbox, "tenant": p.tenant,
             "sandboxes": p.sandboxes()},
            lambda: out.print(f"Distillery home {p.home} (sandbox {p.sandbox}, tenant "
                              f"_{p.tenant}) is ready."))


def dataset_info(d: DatasetRecord) -> dict[str, Any]:
    """A dataset as a JSON-able dict."""
    return {"id": d.id, "name": d.name, "table_name": d.table_name, "class": d.schema.cls,
            "schema": d.schema.title, "profile_enabled": d.profile_enabled, "tags": d.tags,
            "labels": d.labels, "snapshot": d.version, "created_at": d.created_at}


def batch_info(b: BatchRecord) -> dict[str, Any]:
    """A batch as a JSON-able dict."""
    return {"id": b.id, "dataset_id": b.dataset_id, "state": b.state,
            "created_at": b.created_at, "completed_at": b.completed_at,
            "input_records": b.input_records, "output_records": b.output_records,
            "failed_records": b.failed_records, "input_bytes": b.input_bytes,
            "input_files": b.input_files, "error_threshold": b.error_threshold,
            "snapshot": b.snapshot, "replaces": b.replaces, "message": b.message}


@dataset_app.command("list")
def dataset_list(ctx: typer.Context) -> None:
    """List the sandbox's datasets."""
    st = state(ctx)
    items = [dataset_info(d) for d in st.platform().datasets()]
    st.emit(items, lambda: out.print(table(
        "Datasets", ["name", "table", "id", "class", "profile", "snapshot", "labels"],
        [[i["name"], i["table_name"], i["id"], i["class"], i["profile_enabled"], i["snapshot"],
          ",".join(i["labels"])] for i in items])))


@dataset_app.command("show")
def dataset_show(ctx: typer.Context, name: str = typer.Argument(..., help="Name, id or table.")
                 ) -> None:
    """Describe a dataset: schema fields, identities, batches."""
    st = state(ctx)
    p = st.platform()
    d = p.dataset(name)
    info = dataset_info(d)
    info["fields"] = [{"path": path, "type": f.type, "required": f.required}
                      for path, f in d.schema.leaves()]
    info["identities"] = [{"path": i.path, "namespace": i.namespace, "primary": i.primary}
                          for i in d.schema.identities]
    info["batches"] = [batch_info(b) for b in p.catalog.batches(d.id)]

    def render() -> None:
        out.print(table(f"Dataset {d.name}", ["key", "value"],
                        [[k, v] for k, v in info.items()
                         if k not in ("fields", "identities", "batches")]))
        out.print(table("Fields", ["path", "type", "required"],
                        [[f["path"], f["type"], f["required"]] for f in info["fields"]]))
        out.print(table("Identities", ["path", "namespace", "primary"],
                        [list(i.values()) for i in info["identities"]]))
        out.print(table("Batches", ["id", "state", "records", "failed", "snapshot"],
                        [[b["id"], b["state"], b["output_records"], b["failed_records"],
                          b["snapshot"]] for b in info["batches"]]))

    st.emit(info, render)


@dataset_app.command("create")
def dataset_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Dataset name."),
    schema: Path | None = typer.Option(None, "--schema", help="Schema file (JSON or YAML)."),
    cls: str | None = typer.Option(None, "--class", help="A standard class: event or profile."),
    profile: bool = typer.Option(False, "--profile", help="Enable for profile."),
    table_name: str | None = typer.Option(None, "--table", help="SQL table name."),
) -> None:
    """Create an empty dataset from a schema file or a standard class."""
    st = state(ctx)
    p = st.platform()
    if (schema is None) == (cls is None):
        fail("give exactly one of --schema FILE or --class event|profile")
    if cls is not None and cls not in _CLASSES:
        fail(f"--class must be one of {sorted(_CLASSES)}, got {cls!r}")
    s = Schema.load(schema) if schema else _CLASSES[cls](p.tenant)  # type: ignore[index]
    d = p.create_dataset(name, s, profile_enabled=profile, table_name=table_name)
    st.emit(dataset_info(d), lambda: out.print(f"Created dataset {d.name} (id {d.id}, table "
                                               f"{d.table_name})."))


@dataset_app.command("drop")
def dataset_drop(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Name, id or table."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a dataset and all its data (asks first)."""
    st = state(ctx)
    p = st.platform()
    d = p.dataset(name)
    if not yes and not typer.confirm(f"Drop dataset {d.name} ({d.id}) and all its data?"):
        fail("not dropped", code=1)
    p.drop_dataset(d.id)
    st.emit({"dropped": dataset_info(d)}, lambda: out.print(f"Dropped dataset {d.name}."))


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for v in values:
        if "=" not in v:
            fail(f"{option} takes NAME=VALUE, got {v!r}")
        k, val = v.split("=", 1)
        pairs[k.strip()] = val.strip()
    return pairs


def ingest(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="Files to ingest (CSV, Parquet, JSON lines)."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Target dataset."),
    create: bool = typer.Option(False, "--create", help="Create the dataset if missing."),
    cls: str = typer.Option("adhoc", "--class", help="For --create: adhoc, event or profile."),
    identity: list[str] = typer.Option([], "--identity", help="COL=NAMESPACE (first: primary)."),
    timestamp: str | None = typer.Option(None, "--timestamp", help="Event time column."),
    event_type: str | None = typer.Option(None, "--event-type", help="Event type column."),
    mapping: list[str] = typer.Option([], "--map", help="SOURCE=FIELD column mapping."),
    batch_id: str | None = typer.Option(None, "--batch-id", help="Client batch id."),
    threshold: float | None = typer.Option(None, "--error-threshold",
                                           help="Share of bad rows tolerated (default 0.05)."),
    profile: bool = typer.Option(False, "--profile", help="For --create: enable for profile."),
    file_format: str | None = typer.Option(None, "--format", help="csv, parquet or json."),
) -> None:
    """Ingest files into a dataset as one batch."""
    st = state(ctx)
    p = st.platform()
    maps = _pairs(mapping, "--map")
    existing = p.catalog.find_dataset(dataset)
    if existing is None:
        if not create:
            fail(f"dataset {dataset!r} does not exist; add --create to create it from the files")
        plan = byo.plan(files[0], dataset, cls, identity=_pairs(identity, "--identity"),
                        timestamp=timestamp, event_type=event_type, mapping=maps,
                        tenant=p.tenant, file_format=file_format)
        existing = p.create_dataset(dataset, plan.schema, profile_enabled=profile)
        maps = plan.mapping
    with p.console.task(f"Ingesting {len(files)} file(s) into {existing.name}", len(files)) as t:
        batch = p.create_batch(existing, batch_id, error_threshold=threshold,
                               mapping=maps or None)
        with batch:
            for f in files:
                batch.add(f, file_format=file_format)
                t.advance()
    rec = batch.record
    st.emit(batch_info(rec), lambda: out.print(
        f"Batch {rec.id}: {rec.state}, {rec.output_records:,} records written, "
        f"{rec.failed_records:,} failed (snapshot {rec.snapshot}). {rec.message}"))


@batch_app.command("show")
def batch_show(ctx: typer.Context, batch_id: str = typer.Argument(...),
               limit: int = typer.Option(20, "--limit", help="Diagnostics to show.")) -> None:
    """A batch's state, metrics and row-level diagnostics."""
    st = state(ctx)
    p = st.platform()
    b = p.batch(batch_id)
    info = batch_info(b)
    info["errors"] = p.catalog.batch_errors(b.id, limit=limit)

    def render() -> None:
        out.print(table(f"Batch {b.id}", ["key", "value"],
                        [[k, v] for k, v in info.items() if k != "errors"]))
        if info["errors"]:
            out.print(table("Diagnostics", ["code", "source", "row", "field", "message"],
                            [[e["code"], e["source"], e["row"], e["field"], e["message"]]
                             for e in info["errors"]]))

    st.emit(info, render)


@batch_app.command("list")
def batch_list(ctx: typer.Context, dataset: str | None = typer.Option(None, "--dataset", "-d")
               ) -> None:
    """List batches (of one dataset, or all)."""
    st = state(ctx)
    p = st.platform()
    ds_id = p.dataset(dataset).id if dataset else None
    items = [batch_info(b) for b in p.catalog.batches(ds_id)]
    st.emit(items, lambda: out.print(table(
        "Batches", ["id", "dataset", "state", "records", "failed", "snapshot"],
        [[i["id"], i["dataset_id"], i["state"], i["output_records"], i["failed_records"],
          i["snapshot"]] for i in items])))


@batch_app.command("revert")
def batch_revert(ctx: typer.Context, batch_id: str = typer.Argument(...)) -> None:
    """Remove a batch's rows from its dataset (a new snapshot)."""
    st = state(ctx)
    b = st.platform().lake.revert_batch(batch_id)
    st.emit(batch_info(b), lambda: out.print(f"Batch {b.id} reverted: {b.message}."))
