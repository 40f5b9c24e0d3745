"""`distillery run`: the whole loop of the reference workflow in one command."""

from __future__ import annotations

from pathlib import Path

import typer

from distillery.cli.context import out, parse_as_of, state, table


def register(app: typer.Typer) -> None:
    """Add the command to the main app."""
    app.command("run")(run)


def run(
    ctx: typer.Context,
    users: int = typer.Option(100_000, "--users", min=100, help="Synthetic users."),
    seed: int = typer.Option(42, "--seed", min=0, help="Random seed."),
    as_of: str | None = typer.Option(None, "--as-of", help="Reference date (default today)."),
    landing_zone: str | None = typer.Option(None, "--landing-zone",
                                            help="Storage URL of the landing zone (default: "
                                                 "{home}/landing-zone)."),
    activate_to: str | None = typer.Option(None, "--activate-to",
                                           help="Storage URL audiences are activated to "
                                                "(default: {home}/activation)."),
    trials: int | None = typer.Option(None, "--trials", min=1,
                                      help="Hyperparameter trials (default 10; `distillery "
                                           "train` searches 50)."),
    model: str = typer.Option("lightgbm", "--model", help="Model family."),
    force: bool = typer.Option(False, "--force", help="Redo steps a previous run finished."),
) -> None:
    """Generate, featurize, export, train, score, ingest scores, build and activate audiences."""
    from distillery.pipeline.loop import LoopOptions, run_loop

    moment = parse_as_of(as_of)
    st = state(ctx)
    options = LoopOptions(users=users, seed=seed, as_of=moment, landing_zone=landing_zone,
                          activation=activate_to, model=model)
    if trials is not None:  # else the loop's own default
        options.trials = trials
    summary = run_loop(st.platform(), options, force=force)

    def render() -> None:
        # A "note" column only when a re-run skipped steps.
        skipped = any(s["skipped"] for s in summary["steps"])
        rows = [[s["name"], f"{s['rows']:,}", f"{s['seconds']:.1f}"]
                + (["skipped (done earlier)" if s["skipped"] else ""] if skipped else [])
                for s in summary["steps"]]
        out.print(table("Distillery run", ["step", "rows", "seconds"]
                        + (["note"] if skipped else []), rows))
        quality = [["model ROC AUC (held out)", _fmt(summary["roc_auc"])],
                   ["model ROC AUC (5-fold mean)", _fmt(summary["cv_roc_auc_mean"])],
                   ["latent propensity AUC (ground truth)", _fmt(summary["latent_auc"])],
                   ["clairvoyant AUC (ceiling)", _fmt(summary["clairvoyant_auc"])],
                   ["expected calibration error", _fmt(summary["ece"])]]
        out.print(table("Model", ["metric", "value"], quality))
        out.print(table("Audiences", ["audience", "people"],
                        [[k, f"{v:,}"] for k, v in summary["audiences"].items()]))
        out.print(table("Files written", ["path"], [[_shown(f)] for f in summary["files"]]))
        out.print(f"Total {summary['seconds']:.1f} s.")

    st.emit(summary, render)


def _shown(path: str) -> str:
    """A path relative to the working folder when it lies under it (shorter to read)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
