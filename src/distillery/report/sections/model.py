"""Step 4: the champion model, read from its MLflow run: metrics and the model card, ROC and
precision-recall (the run's PNGs: the card keeps no curve points), and gains, reliability and
feature importance drawn from the card's tables."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from distillery.report import charts
from distillery.report.context import ReportContext
from distillery.report.parts import Figure, NotYetRun, Section, Table, number, percent

_PNG_PLOTS = (("roc", "roc.png", "ROC curve on held-out people"),
              ("pr", "precision_recall.png", "Precision-recall curve on held-out people"))
_SHAP = ("shap", "shap_summary.png", "SHAP summary (how each feature moves the score)")
TOP_FEATURES = 20


def collect(ctx: ReportContext, section: Section) -> None:
    """Metrics, curves and tables of the champion (else the latest version)."""
    from distillery.ml import models

    versions = models(ctx.platform)
    if not versions:
        raise NotYetRun("No model registered yet: train one with `distillery train` "
                        "(notebook 04).")
    name = ctx.model_name or _default_name(versions)
    card, plots, version = _run_artifacts(ctx, name)
    aliases: list[str] = next((v["aliases"] for v in versions
                    if v["name"] == name and v["version"] == version), [])
    section.metrics += _metrics(name, version, aliases, card)
    for plot_id, file, title in _PNG_PLOTS:
        if file in plots:
            section.figures.append(Figure(plot_id, title, png=plots[file]))
        else:
            section.notes.append(f"The training run has no {file} (trained with plots off?).")
    section.figures += [_gains(card["deciles"]), _reliability(card),
                        _importance(card["importance"])]
    if _SHAP[1] in plots:
        section.figures.append(Figure(_SHAP[0], _SHAP[2], png=plots[_SHAP[1]]))
    section.tables.append(Table("Registered versions", [
        "model", "version", "aliases", "family", "training set", "test ROC AUC", "ECE",
        "calibration", "created"],
        [[v["name"], v["version"], ", ".join(v["aliases"]), v["family"], v["dataset"],
          number(v["roc_auc"]), number(v["ece"], 4), v["calibration"], v["created_at"]]
         for v in versions]))
    section.notes += card.get("notes", [])


def _default_name(versions: list[dict[str, Any]]) -> str:
    from distillery.ml import DEFAULT_NAME

    names = [v["name"] for v in versions]
    return DEFAULT_NAME if DEFAULT_NAME in names else names[0]


def _run_artifacts(ctx: ReportContext, name: str) -> tuple[dict[str, Any], dict[str, bytes],
                                                           int]:
    """The card and the plot PNGs of the version's run, and the version number."""
    from distillery.ml.registry import CARD_FILE, Registry

    registry = Registry.of(ctx.platform)
    version, run_id = registry.resolve(name)
    with registry.client() as client, tempfile.TemporaryDirectory() as tmp:
        card = json.loads(Path(client.download_artifacts(run_id, CARD_FILE, tmp)).read_text())
        names = {a.path.rsplit("/", 1)[-1] for a in client.list_artifacts(run_id, "plots")}
        plots = {}
        for file in names & {f for _, f, _ in (*_PNG_PLOTS, _SHAP)}:
            plots[file] = Path(client.download_artifacts(run_id, f"plots/{file}", tmp)
                               ).read_bytes()
    return card, plots, version


def _metrics(name: str, version: int, aliases: list[str], card: dict[str, Any]
             ) -> list[tuple[str, str]]:
    m, cv = card["metrics"], card["cross_validation"]
    source = card["training_set"]
    out = [
        ("model", f"{name} v{version}" + (f" ({', '.join(aliases)})" if aliases else "")),
        ("family", card["model"]["family"]),
        ("training set", f"{source['name']} (snapshot {source.get('snapshot', '-')})"),
        ("test ROC AUC", number(m["roc_auc"])), ("test PR AUC", number(m["pr_auc"])),
        ("CV ROC AUC", f"{cv['roc_auc_mean']:.3f} ± {cv['roc_auc_std']:.3f}"),
        ("ECE", number(m["ece"], 4)), ("Brier", number(m["brier"], 4)),
        ("calibration", card["calibration"]["method"]),
        ("observed rate", percent(m.get("observed_rate"), 2)),
    ]
    if m.get("baseline_cv_roc_auc_mean") is not None:
        out.append(("logistic baseline CV AUC", number(m["baseline_cv_roc_auc_mean"])))
    if m.get("truth_clairvoyant_roc_auc") is not None:
        out.append(("clairvoyant AUC (ground truth)", number(m["truth_clairvoyant_roc_auc"])))
    return out


def _gains(deciles: list[dict[str, Any]]) -> Figure:
    go = charts.go()
    x = [0] + [10 * d["decile"] for d in deciles]
    fig = charts.figure(
        go.Scatter(x=x, y=[0] + [100 * d["cumulative_capture"] for d in deciles],
                   mode="lines+markers", name="model"),
        go.Scatter(x=[0, 100], y=[0, 100], mode="lines", name="random",
                   line={"dash": "dash", "color": "grey"}),
        go.Bar(x=[10 * d["decile"] - 5 for d in deciles], y=[d["lift"] for d in deciles],
               name="lift per decile", yaxis="y2", opacity=0.35, width=8),
        title="Cumulative gains (test)", x="% of people, highest scores first",
        y="% of conversions captured",
        yaxis2={"title": "lift", "overlaying": "y", "side": "right", "showgrid": False})
    return Figure("gains", "Cumulative gains and lift per decile on held-out people",
                  plotly=fig)


def _reliability(card: dict[str, Any]) -> Figure:
    go = charts.go()
    table = card["calibration"]["reliability"]
    top = max([r["mean_predicted"] for r in table] + [r["observed"] for r in table] + [0.01])
    fig = charts.figure(
        go.Scatter(x=[0, top], y=[0, top], mode="lines", name="perfect",
                   line={"dash": "dash", "color": "grey"}),
        go.Scatter(x=[r["mean_predicted"] for r in table], y=[r["observed"] for r in table],
                   mode="lines+markers", name="model",
                   text=[f"{int(r['count']):,} people" for r in table]),
        title=f"Reliability (ECE {card['metrics']['ece']:.4f})",
        x="mean predicted probability", y="observed rate")
    return Figure("reliability", "Reliability: observed conversion rate against the mean "
                                 "prediction, equal-count bins of held-out people", plotly=fig)


def _importance(importance: dict[str, Any]) -> Figure:
    go = charts.go()
    top = sorted(importance["values"].items(), key=lambda kv: kv[1])[-TOP_FEATURES:]
    fig = charts.figure(go.Bar(y=[k for k, _ in top], x=[v for _, v in top],
                               orientation="h"),
                        title="Feature importance", x=importance["measure"],
                        height=charts.bar_height(len(top)),
                        margin={"l": 260, "r": 30, "t": 60, "b": 50})
    return Figure("importance", f"The {len(top)} most important features "
                                f"({importance['measure']})", plotly=fig)
