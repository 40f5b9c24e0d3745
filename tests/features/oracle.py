"""A plain pandas implementation of the point-in-time features, written from the definition's
words and nothing else of Distillery's, to check the engine's answers against."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from distillery.features.fields import slugs


def features(events: pd.DataFrame, types: list[str], cutoff: datetime,
             windows: tuple[int, ...] = (7, 14, 28)) -> pd.DataFrame:
    """Per person with an event before the cutoff: counts per type and window, recency per
    type (NaN when never), totals, tenure. `events` has person, eventType, timestamp."""
    cut = pd.Timestamp(cutoff)
    e = events[(events["timestamp"] < cut) & events["person"].notna()]
    out = pd.DataFrame(index=pd.Index(sorted(e["person"].unique()), name="person"))
    spans: list[tuple[str, pd.Timestamp | None]] = [
        (f"{w}d", cut - timedelta(days=w)) for w in windows] + [("all", None)]
    for event_type, part in slugs(types).items():
        of_type = e[e["eventType"] == event_type]
        for name, start in spans:
            chosen = of_type if start is None else of_type[of_type["timestamp"] >= start]
            out[f"count_{name}__{part}"] = chosen.groupby("person").size()
        last = of_type.groupby("person")["timestamp"].max()
        out[f"recency_min__{part}"] = (cut - last).dt.total_seconds() / 60
    for name, start in spans:
        chosen = e if start is None else e[e["timestamp"] >= start]
        out[f"count_{name}"] = chosen.groupby("person").size()
    out["recency_min"] = (cut - e.groupby("person")["timestamp"].max()).dt.total_seconds() / 60
    out["tenure_days"] = (cut - e.groupby("person")["timestamp"].min()).dt.total_seconds() / 86400
    counts = [c for c in out.columns if c.startswith("count_")]
    out[counts] = out[counts].fillna(0).astype(np.int64)
    return out
