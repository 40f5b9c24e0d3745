"""Commands for models: `distillery train` and `distillery models` (list, show, promote, drop).

Thin: options are parsed here and passed to `distillery.ml`, which validates them.
"""

from __future__ import annotations

import json
from typing import Any

import typer

from distillery.cli.context import fail, out, state, table

models_app = typer.Typer(help="List, show, promote and drop registered models.",
                         invoke_without_command=True)

# Metrics shown by `train` without --json (every metric is in the JSON and in MLflow).
_SHOWN = ("roc_auc", "cv_roc_auc_mean", "cv_roc_auc_std", "baseline_cv_roc_auc_mean", "pr_auc",
          "log_loss", "brier", "ece", "calibration_in_the_large", "threshold", "precision",
          "recall", "truth_latent_roc_auc", "truth_clairvoyant_roc_auc",
          "roc_auc_to_clairvoyant")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("train")(train)
    app.add_typer(models_app, name="models")


def train(
    ctx: typer.Context,
    dataset: str = typer.Option(..., "--dataset", help="Training set: a dataset name, or a "
                                "path/URL of exported Parquet files (the latest exportTime= "
                                "folder is read)."),
    label: str | None = typer.Option(None, "--label", help="Label column."),
    model: str = typer.Option("lightgbm", "--model", help="lightgbm, logreg, hist_gbm, "
                              "random_forest or xgboost."),
    trials: int = typer.Option(50, "--trials", help="Hyperparameter search trials."),
    name: str = typer.Option("propensity", "--name", help="Registered model name."),
    feature: list[str] | None = typer.Option(None, "--feature", help="Feature column (repeat; "
                                      "default: every usable column)."),
    exclude: list[str] | None = typer.Option(None, "--exclude", help="Column never used (repeat)."),
    categorical: list[str] | None = typer.Option(None, "--categorical", help="Treat a column "
                                                 "as categorical (repeat)."),
    kind: list[str] | None = typer.Option(None, "--kind", help="Declare a feature's kind, "
                                          "COL=numeric|categorical|boolean (repeat)."),
    person: str | None = typer.Option(None, "--person", help="Person column for the split."),
    cutoff: str | None = typer.Option(None, "--cutoff", help="Cutoff-time column."),
    horizon: str | None = typer.Option(None, "--horizon", help="Label horizon, e.g. 14d."),
    negative_rate: float | None = typer.Option(None, "--negative-rate", help="Share of "
                                               "negatives kept when the set was built."),
    folds: int = typer.Option(5, "--folds", help="Person folds for cross-validation."),
    test_size: float = typer.Option(0.2, "--test-size", help="Share of persons held out."),
    seed: int = typer.Option(0, "--seed", help="Seed."),
    calibration: str = typer.Option("auto", "--calibration", help="auto, isotonic, platt or "
                                    "none."),
    threshold: str = typer.Option("f1", "--threshold", help="Decision threshold for the "
                                  "confusion matrix, or f1."),
    param: list[str] | None = typer.Option(None, "--param", help="Fixed hyperparameter KEY=VALUE "
                                    "(repeat)."),
    jobs: int | None = typer.Option(None, "--jobs", help="Fits at the same time (default: "
                                    "cores)."),
    timeout: float | None = typer.Option(None, "--timeout", help="Search time limit (s)."),
    snapshot: int | None = typer.Option(None, "--snapshot", help="Dataset snapshot."),
    baseline: bool = typer.Option(True, "--baseline/--no-baseline", help="Cross-validate "
                                  "logistic regression too."),
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Make the new version "
                                 "the champion."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Draw and log the plots."),
) -> None:
    """Train, tune, calibrate, evaluate and register a model."""
    from distillery.ml import train as run

    st = state(ctx)
    options: dict[str, Any] = dict(
        label=label, model=model, trials=trials, name=name, features=feature or None,
        exclude=exclude or [],
        kinds=dict.fromkeys(categorical or [], "categorical") | _pairs(kind or [], "--kind"),
        person=person, cutoff=cutoff, horizon=horizon, negative_rate=negative_rate,
        folds=folds, test_size=test_size, seed=seed, calibration=calibration,
        threshold=_threshold(threshold), params=_pairs(param or [], "--param"), jobs=jobs,
        timeout=timeout, snapshot=snapshot, baseline=baseline, promote=promote, plots=plots)
    result = run(st.platform(), dataset, **options)
    summary = result.to_dict()
    flat = {k: v for k, v in summary.items() if k != "metrics"} | summary["metrics"]
    st.emit(flat, lambda: _render_training(summary))


def _threshold(text: str) -> float | str:
    if text == "f1":
        return text
    try:
        return float(text)
    except ValueError:
        fail(f"--threshold must be a probability or f1, got {text!r}")


def _pairs(items: list[str], option: str) -> dict[str, Any]:
    """KEY=VALUE items; values read as JSON when they are (numbers, true/false)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"{option} must be KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _render_training(summary: dict[str, Any]) -> None:
    m = summary["metrics"]
    rows = [[k, f"{m[k]:.4f}"] for k in _SHOWN if k in m]
    out.print(table(f"{summary['model']} on label {summary['label']}", ["metric", "value"],
                    rows))
    alias = " (champion)" if summary["promoted"] else ""
    out.print(f"Registered {summary['name']} version {summary['version']}{alias}: "
              f"{summary['uri']}, run {summary['run_id']}.")


@models_app.callback()
def models_main(ctx: typer.Context) -> None:
    """List registered models (every version), or run a subcommand."""
    if ctx.invoked_subcommand is None:
        models_list(ctx)


@models_app.command("list")
def models_list(ctx: typer.Context) -> None:
    """List every version of every registered model."""
    from distillery.ml import models

    st = state(ctx)
    items = models(st.platform())
    st.emit(items, lambda: out.print(table(
        "Models", ["name", "version", "aliases", "family", "training set", "roc_auc", "ece",
                   "calibration", "created"],
        [[i["name"], i["version"], ",".join(i["aliases"]), i["family"], i["dataset"],
          _fmt(i["roc_auc"]), _fmt(i["ece"]), i["calibration"], i["created_at"]]
         for i in items])))


@models_app.command("show")
def models_show(
    ctx: typer.Context,
    name: str = typer.Argument("propensity", help="Model name."),
    version: str | None = typer.Option(None, "--version", help="Version number or alias "
                                       "(default: champion, else latest)."),
) -> None:
    """Show a version's model card."""
    from distillery.ml import load_model

    st = state(ctx)
    loaded = load_model(st.platform(), name, version)
    info = {"name": loaded.name, "version": loaded.version, "run_id": loaded.run_id,
            "uri": loaded.uri, "card": loaded.card}

    def render() -> None:
        c = loaded.card
        out.print(table(f"{loaded.name} version {loaded.version}", ["key", "value"], [
            ["family", c["model"]["family"]], ["training set", c["training_set"]["name"]],
            ["snapshot", c["training_set"].get("snapshot")], ["label", c["label"]],
            ["features", ", ".join(c["features"])],
            ["calibration", c["calibration"]["method"]],
            ["negative rate", c["sampling"]["negative_rate"]],
            *[[k, _fmt(c["metrics"].get(k))] for k in _SHOWN if k in c["metrics"]],
            ["run", loaded.run_id]]))

    st.emit(info, render)


@models_app.command("promote")
def models_promote(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name."),
    version: int = typer.Argument(..., help="Version to make the champion."),
) -> None:
    """Point the champion alias at a version."""
    from distillery.ml.registry import Registry

    st = state(ctx)
    Registry.of(st.platform()).set_alias(name, version)
    st.emit({"name": name, "version": version, "alias": "champion"},
            lambda: out.print(f"{name} version {version} is now the champion."))


@models_app.command("drop")
def models_drop(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name."),
    version: int | None = typer.Option(None, "--version", help="Drop only this version."),
    if_exists: bool = typer.Option(False, "--if-exists", help="No error if it is missing."),
) -> None:
    """Delete a registered model (or one of its versions)."""
    from distillery.ml.registry import Registry

    st = state(ctx)
    dropped = Registry.of(st.platform()).drop(name, version, if_exists=if_exists)
    st.emit({"name": name, "dropped_versions": dropped},
            lambda: out.print(f"Dropped {name} version(s) {dropped or 'none'}."))


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
