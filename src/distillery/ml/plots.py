"""The plots of a training, as PNG files: ROC, precision-recall, gains, reliability diagram,
feature importance, and a SHAP summary when shap is installed.

Figures use matplotlib's object API (`Figure`), so the library never switches the caller's
backend or touches pyplot's global figures; only SHAP, which draws through pyplot, gets a
pyplot figure that is closed at once. matplotlib is imported only when a training asks for
plots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve


def _figure(width: float, height: float, columns: int = 1) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots(1, columns)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def roc(folder: Path, y: np.ndarray, p: np.ndarray, auc: float, baselines: dict[str, float]
        ) -> Path:
    """ROC curve of the held-out predictions."""
    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = _figure(5, 5)
    ax.plot(fpr, tpr, label=f"model (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    for name, value in baselines.items():
        ax.plot([], [], " ", label=f"{name}: {value:.3f}")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, folder / "roc.png")


def precision_recall(folder: Path, y: np.ndarray, p: np.ndarray, pr_auc: float) -> Path:
    """Precision-recall curve of the held-out predictions."""
    precision, recall, _ = precision_recall_curve(y, p)
    fig, ax = _figure(5, 5)
    ax.plot(recall, precision, label=f"model (AP {pr_auc:.3f})")
    ax.axhline(float(np.mean(y)), linestyle="--", color="grey", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test)")
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, folder / "precision_recall.png")


def gains(folder: Path, deciles: list[dict[str, Any]]) -> Path:
    """Cumulative gains (capture) and lift per decile."""
    fig, (left, right) = _figure(10, 4.5, columns=2)
    x = [0] + [d["decile"] * 10 for d in deciles]
    left.plot(x, [0] + [100 * d["cumulative_capture"] for d in deciles], marker="o",
              label="model")
    left.plot([0, 100], [0, 100], "--", color="grey", label="random")
    left.set(xlabel="% of people (by score)", ylabel="% of conversions captured",
             title="Cumulative gains (test)")
    left.legend(fontsize=8)
    right.bar([d["decile"] for d in deciles], [d["lift"] for d in deciles])
    right.axhline(1.0, linestyle="--", color="grey")
    right.set(xlabel="decile (1 = highest scores)", ylabel="lift", title="Lift per decile")
    return _save(fig, folder / "gains.png")


def reliability(folder: Path, table: list[dict[str, float]], ece: float) -> Path:
    """Reliability diagram: observed rate against mean prediction per bin."""
    fig, ax = _figure(5, 5)
    top = max([r["mean_predicted"] for r in table] + [r["observed"] for r in table] + [0.05])
    ax.plot([0, top], [0, top], "--", color="grey", label="perfect")
    ax.plot([r["mean_predicted"] for r in table], [r["observed"] for r in table], marker="o",
            label=f"model (ECE {ece:.4f})")
    ax.set(xlabel="mean predicted probability", ylabel="observed rate",
           title="Reliability (test, equal-count bins)")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, folder / "reliability.png")


def importance(folder: Path, values: dict[str, float], kind: str) -> Path:
    """Horizontal bars of the 25 most important features."""
    top = sorted(values.items(), key=lambda kv: kv[1])[-25:]
    fig, ax = _figure(7, 0.3 * len(top) + 1.5)
    ax.barh([k for k, _ in top], [v for _, v in top])
    ax.set(xlabel=kind, title="Feature importance")
    return _save(fig, folder / "feature_importance.png")


def shap_summary(folder: Path, model: Any, frame: Any, seed: int) -> Path | None:
    """SHAP summary (beeswarm) of the estimator on up to 1,000 rows; None without shap."""
    try:
        import shap
    except ImportError:
        return None
    import matplotlib.pyplot as plt

    sample = frame.sample(n=min(1000, len(frame)), random_state=seed)
    prepared = model.pipeline[:-1].transform(sample)
    # Tree models explain through their own paths: no background data, so native categorical
    # splits are supported; other models (logistic regression) get a background sample.
    if model.family == "logreg":
        explainer = shap.Explainer(model.estimator, prepared)
    else:
        explainer = shap.TreeExplainer(model.estimator, feature_perturbation="tree_path_dependent")
    values = explainer(prepared)
    if values.values.ndim == 3:  # one slice per class: keep the positive class
        values = values[:, :, 1]
    shap.summary_plot(values, prepared, show=False, max_display=20)
    fig = plt.gcf()
    try:
        return _save(fig, folder / "shap_summary.png")
    finally:
        plt.close(fig)
