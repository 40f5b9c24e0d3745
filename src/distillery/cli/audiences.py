"""Commands for audiences, activation, destinations and data-usage labels."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import typer
import yaml

from distillery.cli.context import fail, out, state, table

audience_app = typer.Typer(help="Define, size, evaluate and inspect audiences.",
                           no_args_is_help=True)
destination_app = typer.Typer(help="Configure destinations and see activation runs.",
                              no_args_is_help=True)
label_app = typer.Typer(help="Data-usage labels (C1 ... C12) on datasets and fields.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add these commands to the main app."""
    app.add_typer(audience_app, name="audience")
    app.add_typer(destination_app, name="destination")
    app.add_typer(label_app, name="label")
    app.command("activate")(activate)


def _audiences(ctx: typer.Context) -> Any:
    from distillery.audiences import Audiences

    return Audiences(state(ctx).platform())


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--as-of {text!r} is not an ISO time (e.g. 2024-03-01T00:00:00Z)")
    if moment.tzinfo is None:
        fail(f"--as-of {text!r} needs a time zone (e.g. Z or +00:00)")
    return moment


# Audiences ------------------------------------------------------------------------------------

@audience_app.command("create")
def audience_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Audience name (letters, digits, '_')."),
    rule: str | None = typer.Option(None, "--rule", help="PQL rule, e.g. "
                                    "\"_{tenant}.propensity >= 0.2\"."),
    sql: str | None = typer.Option(None, "--sql", help="SELECT giving the members (a SQL "
                                   "audience); needs --identity and --namespace."),
    source: str | None = typer.Option(None, "--from", help="Profile table of a rule."),
    identity: str | None = typer.Option(None, "--identity", help="Identity field/column."),
    namespace: str | None = typer.Option(None, "--namespace", help="Identity namespace."),
    events: str | None = typer.Option(None, "--events", help="Events table for xEvent."),
    events_identity: str | None = typer.Option(None, "--events-identity"),
    ttl: int | None = typer.Option(None, "--ttl", help="Days a membership stays valid "
                                   "(default: never expires)."),
    schedule: str | None = typer.Option(None, "--schedule", help="Cron or interval."),
    description: str = typer.Option("", "--description"),
    evaluate: bool = typer.Option(False, "--evaluate", help="Evaluate right away."),
) -> None:
    """Create a rule audience (--rule) or a SQL audience (--sql)."""
    st = state(ctx)
    audiences = _audiences(ctx)
    if (rule is None) == (sql is None):
        fail("give exactly one of --rule or --sql")
    job = None
    if rule is not None:
        rec = audiences.create(name, rule, source=source, identity=identity,
                               namespace=namespace, events=events,
                               events_identity=events_identity, ttl_days=ttl,
                               schedule=schedule, description=description)
        if evaluate:
            job = audiences.evaluate(name)
    else:
        rec, job = audiences.create_sql(name, sql or "", primary_identity=identity or "",
                                        identity_namespace=namespace or "", ttl_days=ttl,
                                        description=description)
    info = audiences.describe(rec.name)
    info["job"] = job.__dict__ if job else None
    st.emit(info, lambda: _print_audience(info))


@audience_app.command("list")
def audience_list(ctx: typer.Context) -> None:
    """List audiences with their TTL, expiry and last evaluation."""
    st = state(ctx)
    audiences = _audiences(ctx)
    items = [audiences.describe(a.name) for a in audiences.list()]
    st.emit(items, lambda: out.print(table(
        "Audiences", ["name", "kind", "source", "ttl", "expires", "last job", "qualified"],
        [[i["name"], i["kind"], i["source"], i["ttl"], i["expires_at"] or "-",
          (i["last_job"] or {}).get("number", "-"), (i["last_job"] or {}).get("qualified", "-")]
         for i in items])))


@audience_app.command("show")
def audience_show(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Show an audience: definition, compiled SQL, TTL, last evaluation."""
    st = state(ctx)
    audiences = _audiences(ctx)
    info = audiences.describe(name)
    info["sql"] = None if info["problem"] else audiences.sql_of(name)
    st.emit(info, lambda: _print_audience(info))


def _print_audience(info: dict[str, Any]) -> None:
    out.print(f"[bold]{info['name']}[/bold] ({info['kind']} audience, id {info['id']})")
    out.print(f"  definition: {info['expression']}")
    out.print(f"  reads: {info['source']} (identity {info['identity']}, "
              f"namespace {info['namespace']})")
    out.print(f"  ttl: {info['ttl']}; expires: {info['expires_at'] or '-'}"
              + ("  [red]EXPIRED[/red]" if info["expired"] else ""))
    if info.get("schedule"):
        out.print(f"  schedule: {info['schedule']} (next {info['next_run_at']})")
    job = info.get("job") or info.get("last_job")
    if job:
        out.print(f"  evaluation {job['number']}: {job['state']}, {job['qualified']:,} "
                  f"qualified ({job['realized']:,} entered, {job['existing']:,} existing, "
                  f"{job['exited']:,} exited) in {job['duration_s']} s")
    if info.get("sql"):
        out.print(f"  SQL: {info['sql']}")
    if info.get("problem"):
        out.print(f"  [red]cannot be evaluated now:[/red] {info['problem']}")


@audience_app.command("drop")
def audience_drop(ctx: typer.Context, name: str = typer.Argument(...),
                  if_exists: bool = typer.Option(False, "--if-exists")) -> None:
    """Delete an audience (its membership history stays)."""
    st = state(ctx)
    dropped = _audiences(ctx).drop(name, if_exists=if_exists)
    st.emit({"dropped": dropped.name if dropped else None},
            lambda: out.print(f"Audience {name} dropped." if dropped else
                              f"Audience {name} does not exist."))


@audience_app.command("evaluate")
def audience_evaluate(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Audience (default: every audience)."),
    due: bool = typer.Option(False, "--due", help="Only scheduled audiences that are due."),
    as_of: str | None = typer.Option(None, "--as-of", help="Evaluate as of this time (ISO)."),
) -> None:
    """Run evaluation jobs now (one audience, all, or those due by schedule)."""
    st = state(ctx)
    audiences = _audiences(ctx)
    if due:
        jobs = audiences.evaluate_due(_when(as_of))
    else:
        names = [name] if name else [a.name for a in audiences.list()]
        jobs = [audiences.evaluate(n, as_of=_when(as_of)) for n in names]
    items = [j.__dict__ for j in jobs]
    st.emit(items, lambda: out.print(table(
        "Evaluation jobs", ["audience", "job", "state", "qualified", "entered", "existing",
                            "exited", "seconds"],
        [[j.audience, j.number, j.state, j.qualified, j.realized, j.existing, j.exited,
          j.duration_s] for j in jobs])))


@audience_app.command("jobs")
def audience_jobs(ctx: typer.Context, name: str | None = typer.Argument(None),
                  limit: int = typer.Option(20, "--limit")) -> None:
    """List evaluation jobs, newest first."""
    st = state(ctx)
    jobs = _audiences(ctx).jobs(name, limit)
    st.emit([j.__dict__ for j in jobs], lambda: out.print(table(
        "Evaluation jobs", ["job", "audience", "state", "trigger", "qualified", "entered",
                            "exited", "seconds", "error"],
        [[j.number, j.audience, j.state, j.trigger, j.qualified, j.realized, j.exited,
          j.duration_s, j.error or ""] for j in jobs])))


@audience_app.command("members")
def audience_members(
    ctx: typer.Context, name: str = typer.Argument(...),
    job: int | None = typer.Option(None, "--job", help="Evaluation number (default current)."),
    exited: bool = typer.Option(False, "--exited", help="Include people who exited."),
    limit: int = typer.Option(50, "--limit", help="Rows printed."),
) -> None:
    """Show the members of an evaluation with their status."""
    st = state(ctx)
    rows = _audiences(ctx).members(name, job=job, with_exited=exited)
    shown = rows.slice(0, limit).to_pylist()
    st.emit(shown, lambda: out.print(table(
        f"{name}: {rows.num_rows:,} rows", ["person_id", "status", "job", "evaluated_at"],
        [[r["person_id"], r["status"], r["job"], r["evaluated_at"]] for r in shown])))


@audience_app.command("size")
def audience_size(
    ctx: typer.Context, rule: str = typer.Argument(..., help="PQL rule."),
    source: str | None = typer.Option(None, "--from"),
    identity: str | None = typer.Option(None, "--identity"),
    events: str | None = typer.Option(None, "--events"),
) -> None:
    """The exact number of people a rule selects on the current profiles."""
    st = state(ctx)
    n = _audiences(ctx).size(rule, source=source, identity=identity, events=events)
    st.emit({"rule": rule, "people": n}, lambda: out.print(f"{n:,} people"))


@audience_app.command("reach")
def audience_reach(
    ctx: typer.Context,
    source: str | None = typer.Option(None, "--from", help="Profile table."),
    score: str | None = typer.Option(None, "--score", help="Score field "
                                     "(default _{tenant}.propensity)."),
    rule: str | None = typer.Option(None, "--rule", help="Count only people this rule "
                                    "selects."),
    bins: int = typer.Option(20, "--bins"),
    plot: Path | None = typer.Option(None, "--plot", help="Write a .png or .html plot."),
    between: tuple[float, float] | None = typer.Option(None, "--between",
                                                       help="People with LO <= score <= HI."),
) -> None:
    """Reach over score thresholds: people and expected conversions per bin, above, below."""
    from distillery.audiences.reach import reach_between

    st = state(ctx)
    result = _audiences(ctx).reach(source=source, score=score, rule=rule, bins=bins)
    data = result.to_dict()
    if between is not None:
        people, expected = reach_between(st.platform(), between[0], between[1], source=source,
                                         score=score, rule=rule)
        data["between"] = {"low": between[0], "high": between[1], "people": people,
                           "expected": expected}
    if plot is not None:
        from distillery.audiences.reachplot import plot as draw

        data["plot"] = str(draw(result, plot))
    st.emit(data, lambda: _print_reach(result, data))


def _print_reach(result: Any, data: dict[str, Any]) -> None:
    out.print(table(
        f"Reach of {result.score} in {result.source}" + (f" where {result.rule}"
                                                          if result.rule else ""),
        ["bin", "people", "expected", "people >= start", "people < end", "expected >= start"],
        [[f"{b.lower:.2f}-{b.upper:.2f}", f"{b.people:,}", f"{b.expected:,.1f}",
          f"{b.above:,}", f"{b.below:,}", f"{b.expected_above:,.1f}"] for b in result.bins]))
    out.print(f"{result.total:,} people, {result.scored:,} scored, {result.outside:,} outside "
              f"[{result.low}, {result.high}]; expected conversions "
              f"{data['expected_total']:,.1f}")
    if "between" in data:
        b = data["between"]
        out.print(f"between {b['low']} and {b['high']}: {b['people']:,} people, "
                  f"{b['expected']:,.1f} expected conversions")
    if "plot" in data:
        out.print(f"plot written to {data['plot']}")


# Activation -----------------------------------------------------------------------------------

def activate(
    ctx: typer.Context,
    audience: str = typer.Argument(..., help="Audience name."),
    to: str = typer.Option(..., "--to", help="Destination name."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count entered, exited and "
                                 "updated people; send nothing."),
    identity: list[str] | None = typer.Option(None, "--identity", help="Identity to send "
                                              "(NAMESPACE or NAMESPACE=field); repeatable."),
    attribute: list[str] | None = typer.Option(None, "--attribute", help="Attribute to send "
                                               "(field or alias=field); repeatable."),
    mode: str | None = typer.Option(None, "--mode", help="full or incremental (files)."),
) -> None:
    """Activate an audience to a destination (governed: consent and labels)."""
    from distillery.destinations import activate as run_activation

    st = state(ctx)
    run = run_activation(st.platform(), audience, to, dry_run=dry_run,
                         identities=identity or None, attributes=attribute or None, mode=mode)
    st.emit(run.to_dict(), lambda: _print_run(run))


def _print_run(run: Any) -> None:
    head = "dry run: would send" if run.dry_run else f"{run.state}: sent"
    out.print(f"{head} {run.details.get('to_send', run.sent) if run.dry_run else run.sent:,} "
              f"record(s) of {run.audience} to {run.destination} ({run.mode})")
    out.print(f"  entered {run.entered:,}, exited {run.exited:,}, updated {run.updated:,}, "
              f"unchanged {run.unchanged:,}, excluded by consent {run.excluded:,}"
              + (f", rejected {run.rejected:,}" if run.rejected else ""))
    if run.error:
        out.print(f"  [yellow]{run.error}[/yellow]")
    out.print(f"  run {run.id}")


# Destinations ---------------------------------------------------------------------------------

def _options(items: list[str] | None, spec_file: Path | None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if spec_file is not None:
        try:
            spec = yaml.safe_load(spec_file.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            fail(f"cannot read --spec {spec_file}: {exc}")
        if not isinstance(spec, dict):
            fail(f"--spec {spec_file} must hold a mapping of options")
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--option {item!r} must be key=value")
        spec[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return spec


@destination_app.command("create")
def destination_create(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    type_: str = typer.Option(..., "--type", help="files, http, dummy or python."),
    option: list[str] | None = typer.Option(None, "--option", "-o", help="key=value (YAML "
                                            "value, e.g. attributes=[a.b, c]); repeatable."),
    spec: Path | None = typer.Option(None, "--spec", help="YAML file of options."),
    replace: bool = typer.Option(False, "--replace", help="Replace an existing one."),
) -> None:
    """Configure a destination (secrets as env:VAR or secret:NAME only)."""
    from distillery.destinations import Destinations

    st = state(ctx)
    dest = Destinations(st.platform()).create(name, type_, replace=replace,
                                              **_options(option, spec))
    info = dest.describe()
    st.emit(info, lambda: out.print(f"Destination {name} ({type_}) configured."))


@destination_app.command("list")
def destination_list(ctx: typer.Context) -> None:
    """List configured destinations."""
    from distillery.destinations import Destinations

    st = state(ctx)
    items = [Destinations(st.platform()).get(d["name"]).describe()
             for d in Destinations(st.platform()).list()]
    st.emit(items, lambda: out.print(table(
        "Destinations", ["name", "type", "third party", "settings"],
        [[i["name"], i["type"], i["spec"].get("third_party"),
          ", ".join(f"{k}={v}" for k, v in i["spec"].items()
                    if k in ("url", "format", "export_mode", "batch_size"))] for i in items])))


@destination_app.command("show")
def destination_show(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Show a destination's settings and capabilities."""
    from distillery.destinations import Destinations

    st = state(ctx)
    info = Destinations(st.platform()).get(name).describe()
    st.emit(info, lambda: out.print(yaml.safe_dump(info, sort_keys=False)))


@destination_app.command("drop")
def destination_drop(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Forget a destination (its run records stay)."""
    from distillery.destinations import Destinations

    st = state(ctx)
    Destinations(st.platform()).drop(name)
    st.emit({"dropped": name}, lambda: out.print(f"Destination {name} dropped."))


@destination_app.command("runs")
def destination_runs(
    ctx: typer.Context, name: str | None = typer.Argument(None, help="Destination."),
    audience: str | None = typer.Option(None, "--audience"),
    limit: int = typer.Option(20, "--limit"),
) -> None:
    """List activation runs, newest first."""
    from distillery.destinations import RunStore

    st = state(ctx)
    audience_id = _audiences(ctx).get(audience).id if audience else None
    runs = RunStore(st.platform().catalog).list(name, audience_id, limit)
    st.emit([r.to_dict() for r in runs], lambda: out.print(table(
        "Activation runs", ["run", "audience", "destination", "state", "dry", "entered",
                            "exited", "updated", "sent", "rejected", "error"],
        [[r.id, r.audience, r.destination, r.state, "yes" if r.dry_run else "", r.entered,
          r.exited, r.updated, r.sent, r.rejected, (r.error or "")[:80]] for r in runs])))


# Labels ---------------------------------------------------------------------------------------

@label_app.command("add")
def label_add(ctx: typer.Context, dataset: str = typer.Argument(...),
              labels: list[str] = typer.Argument(..., help="C1 ... C12."),
              field: str | None = typer.Option(None, "--field", help="Field path (default: "
                                               "the whole dataset).")) -> None:
    """Put data-usage labels on a dataset or one of its fields."""
    from distillery.lake import labels as usage

    st = state(ctx)
    now = usage.add_labels(st.platform(), dataset, labels, field=field)
    st.emit({"dataset": dataset, "field": field, "labels": sorted(now)},
            lambda: out.print(f"{dataset}{'.' + field if field else ''}: {', '.join(sorted(now))}"))


@label_app.command("remove")
def label_remove(ctx: typer.Context, dataset: str = typer.Argument(...),
                 labels: list[str] = typer.Argument(...),
                 field: str | None = typer.Option(None, "--field")) -> None:
    """Take data-usage labels off a dataset or one of its fields."""
    from distillery.lake import labels as usage

    st = state(ctx)
    now = usage.remove_labels(st.platform(), dataset, labels, field=field)
    st.emit({"dataset": dataset, "field": field, "labels": sorted(now)},
            lambda: out.print(f"{dataset}{'.' + field if field else ''}: "
                              f"{', '.join(sorted(now)) or '(none)'}"))


@label_app.command("show")
def label_show(ctx: typer.Context, dataset: str = typer.Argument(...)) -> None:
    """Show the labels of a dataset and its fields, with their meanings."""
    from distillery.lake import labels as usage

    st = state(ctx)
    found = usage.labels_for(st.platform(), dataset)
    items = [{"field": f, "label": x, "meaning": usage.LABELS.get(x, "")}
             for f, marks in sorted(found.items()) for x in sorted(marks)]
    st.emit(items, lambda: out.print(table(f"Labels of {dataset}", ["field", "label", "meaning"],
                                           [[i["field"], i["label"], i["meaning"]]
                                            for i in items])))
