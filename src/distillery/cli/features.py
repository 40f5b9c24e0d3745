"""The `eda` and `features` commands: exploration, training sets, incremental state, leakage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from distillery.cli.context import out, state, table

features_app = typer.Typer(help="Build and check training sets.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("eda")(eda)
    app.add_typer(features_app, name="features")


def eda(
    ctx: typer.Context,
    dataset: str = typer.Argument(..., help="The events dataset."),
    identity: str | None = typer.Option(None, "--identity",
                                        help="Person field (default: primary identity)."),
    conversion: str | None = typer.Option(None, "--conversion", help="SQL condition on an "
                                          "event (default: eventType = 'web.formFilledOut')."),
    conversion_type: list[str] = typer.Option([], "--conversion-type",
                                              help="Conversion event type (repeatable)."),
    funnel: list[str] = typer.Option([], "--funnel", help="Funnel step event type "
                                     "(repeatable, in order)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Folder for plots and "
                                       "tables (default: {sandbox}/reports/eda/DATASET)."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write PNG and HTML plots."),
) -> None:
    """Explore an events dataset: counts, funnel, co-occurrence, correlations."""
    from distillery.features.eda import explore

    st = state(ctx)
    report = explore(st.platform(), dataset, identity=identity, conversion=conversion,
                     conversion_types=conversion_type or None, funnel=funnel or None,
                     output=output, plots=plots)
    st.emit(report.to_dict(), lambda: _render_eda(report))


def _render_eda(report: Any) -> None:
    o = report.overview
    out.print(f"[bold]{report.dataset}[/bold]: {o['events']:,} events, {o['people']:,} people "
              f"({o['events_per_person']} events each), {o['event_types']} event types, "
              f"{o['first_event']} to {o['last_event']}")
    for name in ("event_types", "funnel", "correlation"):
        rows = report.tables[name].to_pylist()
        out.print(table(name.replace("_", " ").capitalize(), list(rows[0]) if rows else [],
                        [[_fmt(v) for v in r.values()] for r in rows]))
    for note in report.notes:
        out.print(f"note: {note}")
    folder = report.files[0].parent if report.files else None
    out.print(f"{len(report.files)} files written to {folder}")


def _fmt(value: Any) -> Any:
    return f"{value:.4f}" if isinstance(value, float) else value


@features_app.command("build")
def build(
    ctx: typer.Context,
    events: str = typer.Option(..., "--events", help="The events dataset."),
    output: str = typer.Option(..., "--output", "-o", help="The training set's dataset name."),
    cutoff: list[str] = typer.Option([], "--cutoff", help="Cutoff T, ISO date or date-time "
                                     "(repeatable: several enlarge the set)."),
    horizon: str = typer.Option("14d", "--horizon", help="Label horizon H (14d, 2w, 12h)."),
    conversion: str | None = typer.Option(None, "--conversion", help="SQL condition on an "
                                          "event (default: eventType = 'web.formFilledOut')."),
    conversion_type: list[str] = typer.Option([], "--conversion-type",
                                              help="Conversion event type (repeatable)."),
    population: str = typer.Option("not-converted", "--population",
                                   help="not-converted (one-time conversions) or all "
                                        "(repeatable ones)."),
    window: list[int] = typer.Option([], "--window", help="Window in days (repeatable; "
                                     "default 7, 14, 28)."),
    measure: list[str] = typer.Option([], "--measure", help="Numeric field to sum "
                                      "(repeatable; default: commerce.order.priceTotal when "
                                      "it holds values)."),
    identity: str | None = typer.Option(None, "--identity",
                                        help="Person field (default: primary identity)."),
    profiles: str | None = typer.Option(None, "--profiles", help="Profile dataset to join "
                                        "as of each cutoff."),
    profile_attribute: list[str] = typer.Option([], "--profile-attribute",
                                                help="Profile field (repeatable)."),
    profiles_as_of: str = typer.Option("cutoff", "--profiles-as-of",
                                       help="cutoff (snapshot at T) or latest."),
    state_name: str | None = typer.Option(None, "--state", help="Incremental feature state "
                                          "to compute from (cutoffs at midnight UTC)."),
    reference_compatible: bool = typer.Option(False, "--reference-compatible",
                                              help="The reference's row-level set instead "
                                                   "(leaks the label)."),
    seed: int = typer.Option(0, "--seed", help="Random row seed (reference-compatible)."),
    replace: bool = typer.Option(False, "--replace",
                                 help="Write a new snapshot of an existing training set."),
) -> None:
    """Build a training set (point in time by default) and write it as a dataset."""
    st = state(ctx)
    p = st.platform()
    if reference_compatible:
        from distillery.features.reference import build_reference_training_set

        built = build_reference_training_set(p, events, output, seed=seed, identity=identity,
                                             replace=replace)
    else:
        from distillery.features.training import build_training_set

        built = build_training_set(
            p, events, output, cutoff, horizon=horizon, conversion=conversion,
            conversion_types=conversion_type or None, population=population,
            windows=window or (7, 14, 28), measures=measure or None, identity=identity,
            profiles=profiles, profile_attributes=profile_attribute or None,
            profiles_as_of=profiles_as_of, replace=replace, state=state_name)
    summary = built.summary()
    st.emit(summary, lambda: out.print(
        f"Training set {summary['dataset']}: {summary['rows']:,} rows, "
        f"{summary['positives']:,} positive, {summary['features']} features "
        f"({summary['seconds']:.1f} s)."))


@features_app.command("check")
def check(
    ctx: typer.Context,
    dataset: str = typer.Argument(..., help="The training set."),
    label: str | None = typer.Option(None, "--label", help="Label column (default: the "
                                     "definition's, else label or subscriptionOccurred)."),
    threshold: float = typer.Option(0.95, "--threshold", help="Single-feature AUC flagged."),
    max_rows: int = typer.Option(200_000, "--max-rows", help="Rows sampled for the data "
                                 "checks."),
) -> None:
    """Check a training set for label leakage; exit 1 when leakage is found."""
    from distillery.features.leakage import check_leakage

    st = state(ctx)
    report = check_leakage(st.platform(), dataset, label=label, threshold=threshold,
                           max_rows=max_rows)
    st.emit(report.to_dict(), lambda: _render_check(report))
    if not report.passed:
        raise typer.Exit(1)


def _render_check(report: Any) -> None:
    if report.findings:
        out.print(table(f"Leakage findings: {report.dataset}",
                        ["check", "column", "severity", "finding"],
                        [[f.check, f.column, f.severity, f.message] for f in report.findings]))
    for note in report.notes:
        out.print(f"note: {note}")
    verdict = "[green]no leakage found[/green]" if report.passed else \
        f"[red]leakage: {len(report.leaks)} finding(s)[/red]"
    out.print(f"{report.dataset} (label {report.label}, {len(report.columns)} features, "
              f"{report.rows:,} rows): {verdict}")


@features_app.command("show")
def show(ctx: typer.Context,
         dataset: str = typer.Argument(..., help="The training set.")) -> None:
    """Show the feature definition stored with a training set."""
    from distillery.features.definition import FeatureDefinition

    st = state(ctx)
    d = FeatureDefinition.from_dataset(st.platform(), dataset)
    data = {**d.model_dump(mode="json"), "features": d.feature_names()}
    st.emit(data, lambda: out.print(table(
        f"Feature definition of {dataset}", ["field", "value"],
        [[k, v] for k, v in data.items() if k != "features"]
        + [["features", f"{len(data['features'])} columns"]])))


@features_app.command("update-state")
def update_state(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The state dataset."),
    events: str | None = typer.Option(None, "--events", help="The events dataset (to create "
                                      "the state)."),
    identity: str | None = typer.Option(None, "--identity",
                                        help="Person field (default: primary identity)."),
    measure: list[str] = typer.Option([], "--measure", help="Numeric field to sum "
                                      "(repeatable)."),
) -> None:
    """Bring an incremental feature state up to the events' current snapshot."""
    from distillery.features.incremental import update_state as run

    st = state(ctx)
    done = run(st.platform(), name, events, identity=identity, measures=measure or None)
    data = {"state": done.state, "mode": done.mode, "previous_version": done.previous_version,
            "events_version": done.events_version, "files_read": done.files_read,
            "rows_written": done.rows_written}
    st.emit(data, lambda: out.print(
        f"State {done.state} {done.mode}: events snapshot {done.previous_version} -> "
        f"{done.events_version}, {done.files_read} file(s) read, {done.rows_written:,} rows "
        "written."))
