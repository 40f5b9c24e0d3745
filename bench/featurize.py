"""Benchmark the default (point-in-time) training set against a plain pandas implementation.

    python bench/featurize.py                      # 1,000,000 users (about 10.6 million events)
    python bench/featurize.py --users 100000
    python bench/featurize.py --home DIR           # reuse (or keep) the generated home

The synthetic events are made by `distillery.synth.generate` (the reference scenario) unless the
home already holds them. Each implementation then runs in its own child process, so its peak RSS
(ru_maxrss) is its own:

- distillery: `build_training_set` at one cutoff with a 14-day horizon (long-form aggregation on
  the engine, NumPy pivot, labels, and the write of the training set dataset);
- pandas: the same features the way a careful notebook would compute them locally (read the
  snapshot's Parquet files, filter, one group-by per person and event type with a column per
  window, unstack, one group-by per person, join), writing its result to one Parquet file.
  (A first, more literal version with a group-by per window and a concat took 90 s.)

Both results are compared value by value (counts exactly; minutes and days to 1e-9 relative).
Goal on 2 cores: Distillery in at most 10 s for 1,000,000 users, and faster than pandas in the
same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

AS_OF = datetime(2025, 3, 1, tzinfo=UTC)  # events fall between 2024-12-07 and 2025-02-15
CUTOFF = datetime(2025, 2, 1, tzinfo=UTC)
HORIZON = timedelta(days=14)
WINDOWS = (7, 14, 28)
CONVERSION = "web.formFilledOut"
EVENTS = "experience_events"
PROFILES = "profiles"
OUTPUT = "bench_training"


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB.

    VmHWM is read first: ru_maxrss survives exec on Linux, so a child would report the
    parent's peak at fork time rather than its own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ensure_events(home: Path, users: int, seed: int) -> dict[str, Any]:
    """Generate the synthetic events into `home` unless they are there already."""
    from distillery import Platform
    from distillery.synth import generate

    with Platform.open(home) as platform:
        existing = platform.lake.catalog.find_dataset(EVENTS)
        if existing is not None and existing.version > 0:
            events = platform.query(f"SELECT count(*) FROM {EVENTS}").scalar()
            # Users are the generator's profiles (a few users have no event at all).
            users = platform.query(f"SELECT count(*) FROM {PROFILES}").scalar()
            return {"seconds": 0.0, "events": events, "users": users, "reused": True}
        start = time.perf_counter()
        result = generate(platform, users, seed, as_of=AS_OF, truth=False,  # type: ignore[arg-type]
                          batch_users=100_000)
        return {"seconds": time.perf_counter() - start, "events": result.events,
                "users": result.users, "reused": False}


def run_distillery(home: Path, out: Path) -> dict[str, Any]:
    from distillery import Platform
    from distillery.features import build_training_set

    with Platform.open(home) as platform:
        if platform.lake.catalog.find_dataset(OUTPUT) is not None:
            platform.drop_dataset(OUTPUT)  # the previous run's: each run writes a fresh set
        start, cpu = time.perf_counter(), time.process_time()
        built = build_training_set(platform, EVENTS, OUTPUT, [CUTOFF],
                                   horizon=HORIZON, windows=WINDOWS)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "rows": built.rows, "positives": built.positives,
            "features": len(built.definition.feature_names())}


def run_pandas(home: Path, out: Path) -> dict[str, Any]:
    """The features in plain pandas, from the same snapshot's Parquet files."""
    from distillery import Platform

    with Platform.open(home) as platform:
        files = platform.lake.files(platform.dataset(EVENTS))
    start, cpu = time.perf_counter(), time.process_time()
    frame = pandas_features(files)
    frame.to_parquet(out / "pandas.parquet")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "rows": len(frame),
            "positives": int(frame["label"].sum())}


def pandas_features(files: list[str]) -> Any:
    """Counts per type and window, recency per type, totals, order-value sums, tenure, label:
    one group-by per (person, event type) and one per person, as a careful notebook would."""
    import pandas as pd
    import pyarrow.parquet as pq

    from distillery.features.fields import slugs

    columns = ["_tenant.userid", "eventType", "timestamp", "commerce.order.priceTotal"]
    table = pq.ParquetDataset(files).read(columns=columns).flatten()
    ev = table.rename_columns(["userid", "eventType", "timestamp", "value"]).to_pandas()
    ev = ev[ev["userid"].notna()]
    cut = pd.Timestamp(CUTOFF)
    conv = ev[ev["eventType"] == CONVERSION]
    converted_before = conv.loc[conv["timestamp"] <= cut, "userid"].unique()
    within = conv.loc[(conv["timestamp"] > cut) & (conv["timestamp"] <= cut + HORIZON),
                      "userid"].unique()
    past = ev[ev["timestamp"] < cut].copy()
    past["userid"] = past["userid"].astype("category")  # factorize the 38-digit ids once
    # As Distillery does by default: order values are summed only if the data holds some.
    with_values = bool(past["value"].notna().any())
    past["value"] = past["value"].fillna(0.0)
    counts = {"count_all": ("timestamp", "size")}
    sums = {"sum_all": ("value", "sum")} if with_values else {}
    for w in WINDOWS:
        inside = past["timestamp"] >= cut - pd.Timedelta(days=w)
        past[f"in_{w}d"] = inside.astype("int64")
        counts[f"count_{w}d"] = (f"in_{w}d", "sum")
        if with_values:
            past[f"value_{w}d"] = past["value"].where(inside, 0.0)
            sums[f"sum_{w}d"] = (f"value_{w}d", "sum")
    by_type = past.groupby(["userid", "eventType"], observed=True).agg(
        **counts, last=("timestamp", "max"))
    by_type["recency_min"] = (cut - by_type.pop("last")).dt.total_seconds() / 60
    wide = by_type.unstack("eventType")
    names = slugs(list(wide.columns.get_level_values(1).unique()))
    wide.columns = [f"{kind}__{names[t]}" for kind, t in wide.columns]
    person = past.groupby("userid", observed=True).agg(
        **counts, **sums, last=("timestamp", "max"), first=("timestamp", "min"))
    person["recency_min"] = (cut - person.pop("last")).dt.total_seconds() / 60
    person["tenure_days"] = (cut - person.pop("first")).dt.total_seconds() / 86400
    person = person.rename(columns=lambda c: f"{c}__commerce_order_priceTotal"
                           if c.startswith("sum_") else c)
    frame = wide.join(person)
    frame.index = frame.index.astype(str)
    counted = [c for c in frame.columns if c.startswith("count_")]
    frame[counted] = frame[counted].fillna(0).astype("int64")
    frame = frame[~frame.index.isin(converted_before)]
    frame["label"] = frame.index.isin(within).astype("int64")
    return frame


def compare(home: Path, out: Path) -> dict[str, Any]:
    """Value-by-value comparison of the two results."""
    import numpy as np
    import pandas as pd

    from distillery import Platform

    with Platform.open(home) as platform:
        ours = platform.query(f"SELECT * FROM {OUTPUT}").df().set_index("userid").sort_index()
    theirs = pd.read_parquet(out / "pandas.parquet").sort_index()
    problems = []
    if list(ours.index) != list(theirs.index):
        problems.append(f"people differ: {len(ours)} vs {len(theirs)}")
    worst = 0.0
    for column in ours.columns.drop("cutoff"):
        if column not in theirs.columns:
            if (ours[column] != 0).any() and not ours[column].isna().all():
                problems.append(f"pandas lacks non-empty column {column}")
            continue
        a = ours[column].to_numpy(dtype=np.float64, na_value=np.nan)
        b = theirs[column].reindex(ours.index).to_numpy(dtype=np.float64, na_value=np.nan)
        if column.startswith("count_") or column == "label":
            if not np.array_equal(a, b):
                problems.append(f"{column} differs in {int((a != b).sum())} rows")
            continue
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            problems.append(f"{column}: NULLs differ")
            continue
        both = ~np.isnan(a)
        scale = np.maximum(np.abs(b[both]), 1e-300)
        error = float(np.max(np.abs(a[both] - b[both]) / scale)) if both.any() else 0.0
        worst = max(worst, error)
        if error > 1e-9:
            problems.append(f"{column}: relative difference {error:.2e}")
    return {"same": not problems, "problems": problems[:10], "worst_relative": worst,
            "columns": len(ours.columns) - 1}


def child(phase: str, home: Path, out: Path) -> dict[str, Any]:
    """Run one implementation in a fresh interpreter and return its figures."""
    done = subprocess.run([sys.executable, __file__, "--phase", phase, "--home", str(home),
                           "--out", str(out)], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--home", type=Path, help="home to reuse or keep (default: temporary)")
    parser.add_argument("--phase", choices=("distillery", "pandas"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run = run_distillery if args.phase == "distillery" else run_pandas
        figures = run(args.home, args.out)
        figures["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(figures))
        return
    with tempfile.TemporaryDirectory(prefix="distillery-featurize-") as scratch:
        home = args.home or Path(scratch) / "home"
        made = ensure_events(home, args.users, args.seed)
        how = "reused" if made["reused"] else f"generated in {made['seconds']:.1f} s"
        print(f"events: {made['events']:,} for {made['users']:,} users ({how}); cutoff "
              f"{CUTOFF.date()}, horizon {HORIZON.days} d, windows {WINDOWS} d; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        ours = child("distillery", home, Path(scratch))
        theirs = child("pandas", home, Path(scratch))
        for name, f in (("distillery", ours), ("pandas", theirs)):
            print(f"{name:<11} {f['seconds']:7.2f} s  {f['rows']:>10,} rows  "
                  f"{f['positives']:>8,} positive  peak RSS {f['peak_rss_mb']:7.0f} MiB  "
                  f"CPU {f['cpu']:6.2f} s (all threads)")
        goal = ("met" if ours["seconds"] <= 10 and ours["seconds"] < theirs["seconds"]
                else "missed") if made["users"] >= 1_000_000 else "applies to 1,000,000 users"
        print(f"ratio pandas / distillery: {theirs['seconds'] / ours['seconds']:.2f}x; "
              f"goal (<= 10 s and faster than pandas): {goal}")
        check = compare(home, Path(scratch))
        verdict = "same values" if check["same"] else "DIFFERENT: " + "; ".join(
            check["problems"])
        print(f"check: {verdict} ({check['columns']} columns, worst relative difference "
              f"{check['worst_relative']:.1e})")


if __name__ == "__main__":
    main()
