"""Commands for scoring and profiles: `score`, `scores ...`, `monitor`, `profile ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from distillery.cli.context import fail, out, state, table

scores_app = typer.Typer(help="Score files into the platform, the ingress pick-up, score runs.",
                         no_args_is_help=True)
profile_app = typer.Typer(help="Unified profiles: look a person up, refresh, merge policies.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("score")(score)
    app.command("monitor")(monitor)
    app.add_typer(scores_app, name="scores")
    app.add_typer(profile_app, name="profile")


def _refresh_profiles(ctx: typer.Context) -> dict[str, Any]:
    from distillery import profiles

    result = profiles.refresh(state(ctx).platform())
    return {"mode": result.mode, "persons": result.persons, "merged": result.merged,
            "seconds": round(result.seconds, 3)}


def score(
    ctx: typer.Context,
    model: str = typer.Option("propensity@champion", "--model",
                              help="NAME@ALIAS or NAME/VERSION of a registered model."),
    as_of: str | None = typer.Option(None, "--as-of", help="Features as of this time "
                                     "(ISO date or date-time; default now)."),
    deliver: str = typer.Option("batch", "--deliver", help="batch: direct batch ingestion; "
                                "csv: CSV in the ingress folder, picked up by the source."),
    ingress: str | None = typer.Option(None, "--ingress", help="Storage URL holding "
                                       "cmle/ingress/ (csv; default: the sandbox's landing "
                                       "folder)."),
    dataset: str = typer.Option("propensity_scores", "--dataset", help="Score dataset."),
    batch_rows: int = typer.Option(250_000, "--batch-rows", min=1000,
                                   help="People per scored batch."),
    refresh: bool = typer.Option(True, "--profiles/--no-profiles",
                                 help="Refresh the unified profiles afterwards."),
) -> None:
    """Score every person with a registered model and ingest the scores."""
    from distillery import profiles, scoring

    st = state(ctx)
    platform = st.platform()
    profiles.attach(platform)
    result = scoring.score(platform, model, as_of=as_of, dataset=dataset, deliver=deliver,
                           ingress_url=ingress, batch_rows=batch_rows)
    info = result.summary()
    if refresh:
        info["profiles"] = _refresh_profiles(ctx)

    def render() -> None:
        out.print(f"Scored {result.rows:,} people with {info['model']} v{info['version']} "
                  f"as of {info['as_of']} into {info['dataset']} (batch {info['batch_id']}, "
                  f"{info['seconds']['total']:.1f} s).")
        if info["file"]:
            out.print(f"score file: {info['file']}")
        if refresh:
            p = info["profiles"]
            out.print(f"unified profiles: {p['mode']} refresh, {p['persons']:,} people")

    st.emit(info, render)


@scores_app.command("ingest")
def scores_ingest(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Score file (CSV with a header, Parquet or "
                                           "JSON).")],
    dataset: str = typer.Option("propensity_scores", "--dataset", help="Score dataset."),
    mapping: Annotated[list[str] | None, typer.Option(
        "--map", help="SOURCE=FIELD, e.g. prediction=_tenant.propensity (default: the "
        "reference's mapping).")] = None,
    error_threshold: float | None = typer.Option(None, "--error-threshold", min=0, max=1),
    batch_id: str | None = typer.Option(None, "--batch-id", help="Client batch id."),
) -> None:
    """Ingest a score file as one batch (unknown identities, missing columns and non-numeric
    scores are handled by the batch rules)."""
    from distillery import scoring
    from distillery.cli.datasets import batch_info

    st = state(ctx)
    rules = {}
    for item in mapping or []:
        src, sep, target = item.partition("=")
        if not sep or not src or not target:
            fail(f"--map {item!r} must read SOURCE=FIELD")
        rules[src] = target
    rec = scoring.ingest_scores(st.platform(), path, dataset, mapping=rules or None,
                                error_threshold=error_threshold, batch_id=batch_id)
    st.emit(batch_info(rec), lambda: out.print(
        f"batch {rec.id}: {rec.output_records:,} scores ingested, {rec.failed_records:,} "
        f"rows rejected{'; ' + rec.message if rec.message else ''}"))


@scores_app.command("pickup")
def scores_pickup(
    ctx: typer.Context,
    url: str = typer.Option(..., "--url", help="Storage URL holding cmle/ingress/."),
    dataset: str = typer.Option("propensity_scores", "--dataset", help="Score dataset."),
    error_threshold: float | None = typer.Option(None, "--error-threshold", min=0, max=1),
) -> None:
    """Ingest the new score files of the dataset's ingress folder, one batch each."""
    from dataclasses import asdict

    from distillery import scoring

    st = state(ctx)
    picked = scoring.pick_up(st.platform(), url, dataset, error_threshold=error_threshold)
    items = [asdict(p) for p in picked]
    st.emit(items, lambda: out.print(table(
        "Score files", ["file", "state", "batch", "rows", "rejected", "message"],
        [[p.url, p.state, p.batch_id, p.rows, p.failed_rows, p.message[:200]]
         for p in picked])))
    if any(p.state == "failed" for p in picked):
        fail("some score files were not ingested (see above)")


@scores_app.command("runs")
def scores_runs(ctx: typer.Context,
                model: str | None = typer.Option(None, "--model", help="Model name.")) -> None:
    """List the scoring runs."""
    from dataclasses import asdict

    from distillery import scoring

    st = state(ctx)
    runs = scoring.list_runs(st.platform().catalog, model)
    items = [{k: v for k, v in asdict(r).items() if k != "details"} for r in runs]
    st.emit(items, lambda: out.print(table(
        "Scoring runs", ["run", "model", "version", "as of", "scored at", "rows", "delivery",
                         "batch"],
        [[r.id, r.model_name, r.model_version, r.as_of[:19], r.scored_at[:19], r.rows,
          r.delivery, r.batch_id] for r in runs])))


def monitor(
    ctx: typer.Context,
    model: str = typer.Option("propensity", "--model", help="Registered model name."),
    horizon: str | None = typer.Option(None, "--horizon", help="Outcome window, e.g. 14d "
                                       "(default: the model's label horizon)."),
    threshold: float = typer.Option(0.2, "--threshold", help="Decision threshold."),
    plots: Annotated[Path | None, typer.Option(
        "--plots", help="Folder for the PNG plots (default: the sandbox's runs/monitor/).")
    ] = None,
) -> None:
    """Join past scores with what happened: AUC, calibration and drift per day, plotted."""
    from distillery import scoring
    from distillery.features.timeparse import parse_duration

    st = state(ctx)
    platform = st.platform()
    window = parse_duration(horizon, "--horizon") if horizon else None
    folder = plots or platform.root / "runs" / "monitor" / model
    report = scoring.monitor(platform, model, horizon=window, threshold=threshold,
                             plots=folder)

    def render() -> None:
        out.print(f"{report.model}: outcome {', '.join(report.outcome)} within "
                  f"{report.horizon_days:g} days; drift against {report.baseline}")
        out.print(table("Monitoring", ["day", "version", "scored", "evaluated", "AUC",
                                       "calib. err", "mean p", "observed", "prec@t", "rec@t",
                                       "score PSI", "max feat. PSI"],
                        [_monitor_row(d.row()) for d in report.days]))
        for path in report.plots:
            out.print(f"plot: {path}")

    st.emit(report.to_dict(), render)


def _monitor_row(r: dict[str, Any]) -> list[Any]:
    def f(v: Any, digits: int = 3) -> str:
        return "" if v is None else f"{v:.{digits}f}"

    if r["pending"]:
        return [r["day"], r["version"], r["scored"], "pending", "", "", "", "", "", "",
                f(r["score_psi"]), f(r["max_feature_psi"])]
    return [r["day"], r["version"], r["scored"], r["evaluated"], f(r["auc"]),
            f(r["calibration_error"], 4), f(r["mean_predicted"], 4), f(r["observed_rate"], 4),
            f(r["precision"]), f(r["recall"]), f(r["score_psi"]), f(r["max_feature_psi"])]


@profile_app.command("show")
def profile_show(
    ctx: typer.Context,
    identity: str = typer.Option(..., "--identity", help="NAMESPACE:value, e.g. ECID:0123... "
                                 "or Email:someone@example.com."),
    events: int = typer.Option(10, "--events", min=0, help="Recent events to show."),
) -> None:
    """Print one person: attributes, identities, last events, scores, memberships."""
    from distillery import profiles

    st = state(ctx)
    view = profiles.profile(st.platform(), identity, events=events)
    st.emit(view.to_dict(), lambda: _render_profile(view))


def _render_profile(view: Any) -> None:
    out.print(f"[bold]{view.person_id}[/bold]  (merge policy {view.merge_policy}, updated "
              f"{view.updated_at})")
    out.print(table("Identities", ["namespace", "id", "status", "last seen"],
                    [[i["namespace"], i["id"], i["status"], i["last_seen"]]
                     for i in view.identities]))
    out.print(table("Attributes", ["attribute", "value"], _flatten(view.attributes)))
    out.print(table("Scores", ["scored at", "propensity", "decile", "percentile", "model",
                               "version", "dataset"],
                    [[s.get("scoredAt"), s.get("propensity"), s.get("decile"),
                      s.get("percentile"), s.get("modelName"), s.get("modelVersion"),
                      s["dataset"]] for s in view.scores]))
    out.print(table("Recent events", ["timestamp", "eventType", "dataset"],
                    [[e["timestamp"], e["eventType"], e["dataset"]] for e in view.events]))
    out.print(table("Audience memberships", ["audience", "status"],
                    [[m["audience"], m["status"]] for m in view.memberships]))


def _flatten(value: Any, prefix: str = "") -> list[list[Any]]:
    if isinstance(value, dict):
        rows: list[list[Any]] = []
        for k, v in value.items():
            rows += _flatten(v, f"{prefix}{k}.")
        return rows
    return [[prefix.rstrip("."), value]]


@profile_app.command("refresh")
def profile_refresh(ctx: typer.Context,
                    full: bool = typer.Option(False, "--full", help="Rebuild everything.")
                    ) -> None:
    """Bring the identity graph and the unified profiles up to date."""
    from distillery import profiles

    st = state(ctx)
    r = profiles.refresh(st.platform(), full=full)
    info = {"mode": r.mode, "reason": r.reason, "datasets": r.datasets,
            "identities": r.identities, "persons": r.persons, "merged": r.merged,
            "seconds": round(r.seconds, 3)}
    st.emit(info, lambda: out.print(
        "profiles are up to date" if r.mode == "none" else
        f"{r.mode} refresh{' (' + r.reason + ')' if r.reason else ''}: {r.persons:,} people, "
        f"{r.identities:,} identities, {r.merged:,} merged, {r.seconds:.1f} s"))


@profile_app.command("policies")
def profile_policies(ctx: typer.Context) -> None:
    """List the merge policies (the default first)."""
    from distillery import profiles

    st = state(ctx)
    platform = st.platform()
    items = [_policy_info(platform, p) for p in profiles.list_policies(platform.catalog)]
    st.emit(items, lambda: out.print(table(
        "Merge policies", ["name", "kind", "datasets", "default", "description"],
        [[i["name"], i["kind"], ", ".join(i["datasets"]), i["default"], i["description"]]
         for i in items])))


@profile_app.command("policy")
def profile_policy(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Policy name."),
    kind: str | None = typer.Option(None, "--kind", help="timestampOrdered or "
                                    "dataSetPrecedence (creates the policy)."),
    datasets: Annotated[list[str] | None, typer.Option(
        "--dataset", help="dataSetPrecedence: a dataset, highest precedence first (repeat).")
    ] = None,
    default: bool = typer.Option(False, "--default", help="Make it the default policy."),
    description: str = typer.Option("", "--description"),
) -> None:
    """Create a merge policy (with --kind) and/or make it the default (--default)."""
    from distillery import profiles

    st = state(ctx)
    platform = st.platform()
    if kind is not None:
        policy = profiles.create_policy(platform, name, kind, datasets or [], default=default,
                                        description=description)
    elif default:
        policy = profiles.set_default(platform.catalog, name)
    else:
        policy = profiles.get_policy(platform.catalog, name)
    info = _policy_info(platform, policy)
    st.emit(info, lambda: out.print(
        f"merge policy {info['name']} ({info['kind']}"
        f"{': ' + ', '.join(info['datasets']) if info['datasets'] else ''})"
        f"{' is the default' if info['default'] else ''}"))


def _policy_info(platform: Any, policy: Any) -> dict[str, Any]:
    names = []
    for ds_id in policy.datasets:
        ds = platform.lake.catalog.find_dataset(ds_id)
        names.append(ds.name if ds else f"{ds_id} (dropped)")
    return {"name": policy.name, "kind": policy.kind, "datasets": names,
            "default": policy.is_default, "description": policy.description}
