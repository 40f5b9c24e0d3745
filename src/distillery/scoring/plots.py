"""Monitoring plots (PNG, matplotlib without a display): quality per day, calibration of the
latest evaluated day, drift per day."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def draw(report: Any, folder: Path) -> list[str]:
    """Draw the monitoring plots of `report` into `folder`; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    rows = [d.row() for d in report.days]
    days = [r["day"] for r in rows]
    out = []
    fig, ax = plt.subplots(figsize=(8, 4))
    for key, label in (("auc", "AUC"), ("calibration_error", "calibration error"),
                       ("precision", f"precision at {report.threshold}"),
                       ("recall", f"recall at {report.threshold}")):
        ax.plot(days, [r[key] if r[key] is not None else float("nan") for r in rows],
                marker="o", label=label)
    _finish(ax, f"{report.model}: quality per day (outcome within "
                f"{report.horizon_days:g} days)", "value")
    out.append(_save(fig, folder / "quality.png", plt))

    fig, ax = plt.subplots(figsize=(5, 5))
    evaluated = [d for d in report.days if d.metrics.get("reliability")]
    if evaluated:
        bins = evaluated[-1].metrics["reliability"]
        ax.plot([b["predicted"] for b in bins], [b["observed"] for b in bins], marker="o",
                label=evaluated[-1].day)
    top = max([b["predicted"] for d in evaluated for b in d.metrics["reliability"]]
              + [b["observed"] for d in evaluated for b in d.metrics["reliability"]] + [0.01])
    ax.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect")
    ax.set_xlabel("mean predicted")
    _finish(ax, f"{report.model}: calibration", "observed rate")
    out.append(_save(fig, folder / "calibration.png", plt))

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(days, [r["score_psi"] if r["score_psi"] is not None else float("nan")
                   for r in rows], marker="o", label="scores")
    ax.plot(days, [r["max_feature_psi"] if r["max_feature_psi"] is not None else float("nan")
                   for r in rows], marker="s", label="worst feature")
    ax.axhline(0.1, linestyle=":", color="orange")
    ax.axhline(0.25, linestyle=":", color="red")
    _finish(ax, f"{report.model}: drift against {report.baseline}", "PSI")
    out.append(_save(fig, folder / "drift.png", plt))
    return out


def _finish(ax: Any, title: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)


def _save(fig: Any, path: Path, plt: Any) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)
