"""A model's quality in the context of the synthetic ground truth.

On synthetic data the generator knows each user's latent propensity at the cutoff and the
clairvoyant probability of converting within the horizon (see `distillery.synth.truth`). Their
ROC AUCs on the same test rows and labels say how much of the attainable ranking the model
reached: the clairvoyant AUC is a ceiling no honest model can reach, since it sees the future.
Nothing here runs unless the sandbox holds the ground-truth datasets and the training set says
who each row is, when its cutoff is, and what its horizon is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from sklearn.metrics import roc_auc_score

# A comparison on too few matched rows would say more about the join than about the model.
_MIN_COVERAGE = 0.9


@dataclass
class Comparison:
    """Ground-truth AUCs on the test rows, or why there are none.

    Attributes:
        metrics: truth_latent_roc_auc, truth_clairvoyant_roc_auc, roc_auc_to_clairvoyant
            (the model's AUC on the matched rows over the clairvoyant one), truth_rows and
            truth_label_agreement (share of rows whose label matches the truth's conversion in
            (T, T+H]).
        note: Why the comparison was skipped, or a caveat.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    note: str = ""


def compare(platform: Any, persons: np.ndarray | None, cutoffs: np.ndarray | None,
            y: np.ndarray, p: np.ndarray, horizon: timedelta | None) -> Comparison:
    """Compare test predictions `p` (labels `y`) with the ground truth.

    Args:
        platform: The platform whose lake may hold the ground truth.
        persons: User id per test row.
        cutoffs: Cutoff time per test row (datetime64 or datetime objects).
        y: Test labels.
        p: Test predictions.
        horizon: Label horizon H.
    """
    datasets = _truth_datasets(platform)
    if datasets is None:
        return Comparison(note="no synthetic ground truth in this sandbox")
    missing = [what for what, v in (("a person column", persons), ("a cutoff", cutoffs),
                                    ("a horizon", horizon)) if v is None]
    if missing or persons is None or horizon is None:
        return Comparison(note=f"ground truth not compared: the training set gives no "
                               f"{' or '.join(missing)}")
    events, users = datasets
    latent = np.full(len(y), np.nan)
    clairvoyant = np.full(len(y), np.nan)
    converted = np.zeros(len(y), dtype=bool)
    times = np.asarray(cutoffs, dtype="datetime64[us]")
    for moment in np.unique(times):
        rows = np.flatnonzero(times == moment)
        table = _truth_at(platform, events, users, _as_datetime(moment), horizon)
        where = pc.index_in(pa.array(persons[rows].astype(str)), value_set=table["userid"])
        found = pc.is_valid(where).to_numpy(zero_copy_only=False)
        index = where.to_numpy(zero_copy_only=False)[found].astype(np.int64)
        latent[rows[found]] = table["latent_propensity"].to_numpy()[index]
        clairvoyant[rows[found]] = table["clairvoyant_probability"].to_numpy()[index]
        converted[rows[found]] = table["converted_in_window"].to_numpy(
            zero_copy_only=False)[index]
    return _summarise(y, p, latent, clairvoyant, converted)


def _summarise(y: np.ndarray, p: np.ndarray, latent: np.ndarray, clairvoyant: np.ndarray,
               converted: np.ndarray) -> Comparison:
    matched = ~np.isnan(latent)
    coverage = float(matched.mean()) if len(matched) else 0.0
    if coverage < _MIN_COVERAGE or len(np.unique(y[matched])) < 2:
        return Comparison(note=f"ground truth not compared: only {coverage:.0%} of test rows "
                               "match a synthetic user")
    ym = y[matched]
    clair_auc = float(roc_auc_score(ym, clairvoyant[matched]))
    metrics = {
        "truth_latent_roc_auc": float(roc_auc_score(ym, latent[matched])),
        "truth_clairvoyant_roc_auc": clair_auc,
        "roc_auc_to_clairvoyant": float(roc_auc_score(ym, p[matched])) / clair_auc,
        "truth_rows": float(matched.sum()),
        "truth_label_agreement": float((ym == converted[matched]).mean()),
    }
    note = ""
    if metrics["truth_label_agreement"] < 0.99:
        note = (f"labels agree with the ground truth's conversions in (T, T+H] on only "
                f"{metrics['truth_label_agreement']:.1%} of rows: check the horizon")
    return Comparison(metrics=metrics, note=note)


def _truth_datasets(platform: Any) -> tuple[Any, Any] | None:
    try:
        from distillery.synth.ingestion import TRUTH_EVENTS_DATASET, TRUTH_USERS_DATASET
    except ImportError:
        return None
    if platform is None:
        return None
    events = platform.catalog.find_dataset(TRUTH_EVENTS_DATASET)
    users = platform.catalog.find_dataset(TRUTH_USERS_DATASET)
    if events is None or users is None or events.version < 0 or users.version < 0:
        return None
    return events, users


def _truth_at(platform: Any, events: Any, users: Any, cutoff: datetime,
              horizon: timedelta) -> pa.Table:
    from distillery.synth import truth

    def read(ds: Any) -> pads.Dataset:
        return pads.dataset(platform.lake.files(ds), format="parquet")

    # Events stream batch by batch, so memory follows the users, not the events; only the
    # columns the comparison reads are decoded (not the events' ids).
    return truth.latent_and_clairvoyant(read(events).to_batches(columns=truth.EVENT_COLUMNS),
                                        read(users).to_table(columns=truth.USER_COLUMNS),
                                        cutoff, horizon)


def _as_datetime(moment: np.datetime64) -> datetime:
    from datetime import UTC

    micros = int(moment.astype("datetime64[us]").astype(np.int64))
    return datetime.fromtimestamp(0, UTC) + timedelta(microseconds=micros)
