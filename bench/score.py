"""Benchmark scoring: every person of a synthetic population scored by a registered LightGBM
champion.

    python bench/score.py                       # 1,000,000 people in a temporary home
    python bench/score.py --users 100000 --home /tmp/bench-home   # keep and reuse the home

Phase `prepare` (skipped when the home already holds a champion) generates the users, builds a
point-in-time training set and trains and registers a LightGBM model (early-stopped). Then it
measures:

- the scoring step alone: features already computed, the champion's calibrated probabilities in
  streaming batches plus the staging write (people/s);
- the whole `distillery score` (features + scoring + deciles + batch ingestion of the scores);
- with `--profiles`, a full build of the unified profiles (identity graph and merge of every
  person) and the refresh after the score batch (every scored person merged again).

Each measured phase runs in its own child process, so each peak RSS is its own.

Goal on 2 cores: at least 500,000 people/s for the scoring step, the whole command within 30 s
for 1,000,000 people.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

AS_OF = datetime(2025, 3, 1, tzinfo=UTC)
SCORE_AS_OF = AS_OF - timedelta(days=14)


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(home: Path, users: int, seed: int) -> dict[str, Any]:
    from distillery import Platform
    from distillery.features import build_training_set
    from distillery.ml import train
    from distillery.synth import generate

    out: dict[str, Any] = {}
    with Platform.open(home) as p:
        start = time.perf_counter()
        generate(p, users, seed=seed, as_of=AS_OF)
        out["generate_s"] = time.perf_counter() - start
        start = time.perf_counter()
        built = build_training_set(p, "experience_events", "training",
                                   [AS_OF - timedelta(days=42)], horizon="14d")
        out["training_set_s"], out["training_rows"] = time.perf_counter() - start, built.rows
        start = time.perf_counter()
        result = train(p, "training", trials=1, folds=2, baseline=False, plots=False,
                       shap=False, ground_truth=False)
        out["train_s"], out["version"] = time.perf_counter() - start, result.version
        out["trees"] = getattr(result.model.estimator, "n_estimators_", None) or \
            getattr(result.model.estimator, "n_estimators", None)
    return out


def step(home: Path, batch_rows: int, threads: int) -> dict[str, Any]:
    """The scoring step alone: features computed first, then scored in streaming batches."""
    import pyarrow as pa

    from distillery import Platform
    from distillery.scoring import load_model
    from distillery.scoring.predict import feature_stream, score_stream

    out: dict[str, Any] = {}
    with Platform.open(home) as p:
        model = load_model(p, "propensity@champion")
        out["features"] = len(model.features)
        start = time.perf_counter()
        table = feature_stream(p, model, SCORE_AS_OF, batch_rows).read_all()
        out["features_s"] = time.perf_counter() - start
        start = time.perf_counter()
        reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(batch_rows))
        with tempfile.TemporaryDirectory() as tmp:
            staged = score_stream(reader, model, Path(tmp) / "s.parquet", threads=threads)
        out["scoring_step_s"] = time.perf_counter() - start
        out["people"] = staged.rows
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def command(home: Path, batch_rows: int, threads: int, profiles: bool) -> dict[str, Any]:
    """The whole `distillery score` (and a profile refresh after it, with `profiles`)."""
    from distillery import Platform
    from distillery import profiles as profiles_mod
    from distillery.scoring import score

    out: dict[str, Any] = {}
    with Platform.open(home) as p:
        if profiles:
            start = time.perf_counter()
            profiles_mod.refresh(p, full=True)
            out["profile_build_s"] = time.perf_counter() - start
        result = score(p, "propensity@champion", as_of=SCORE_AS_OF, batch_rows=batch_rows,
                       threads=threads)
        out["command_s"], out["command_steps_s"] = result.seconds["total"], result.seconds
        if profiles:
            refresh = profiles_mod.refresh(p)
            out["profile_refresh_s"], out["profile_refresh_mode"] = refresh.seconds, refresh.mode
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def child(args: argparse.Namespace, phase: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--phase", phase, "--home", str(args.home),
           "--users", str(args.users), "--seed", str(args.seed), "--batch-rows",
           str(args.batch_rows), "--threads", str(args.threads)]
    if args.profiles:
        cmd.append("--profiles")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"phase {phase} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def has_champion(home: Path) -> bool:
    return (home / "sandboxes" / "prod" / "models" / "mlflow.db").exists()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--batch-rows", type=int, default=250_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profiles", action="store_true",
                        help="Also time the incremental profile refresh after scoring.")
    parser.add_argument("--phase", choices=["prepare", "step", "command"], default=None)
    args = parser.parse_args()
    if args.phase == "prepare":
        print(json.dumps(prepare(args.home, args.users, args.seed)))
        return
    if args.phase == "step":
        print(json.dumps(step(args.home, args.batch_rows, args.threads)))
        return
    if args.phase == "command":
        print(json.dumps(command(args.home, args.batch_rows, args.threads, args.profiles)))
        return
    with tempfile.TemporaryDirectory(prefix="distillery-bench-score-") as tmp:
        args.home = args.home or Path(tmp) / "home"
        if not has_champion(args.home):
            prep = child(args, "prepare")
            print(f"prepared {args.users:,} users: generate {prep['generate_s']:.1f} s, "
                  f"training set {prep['training_rows']:,} rows in {prep['training_set_s']:.1f}"
                  f" s, train {prep['train_s']:.1f} s ({prep['trees']} trees)")
        s = child(args, "step")
        c = child(args, "command")
    rate = s["people"] / s["scoring_step_s"]
    print(f"people scored:          {s['people']:,} ({s['features']} features)")
    print(f"features (as of T):     {s['features_s']:.2f} s")
    print(f"scoring step:           {s['scoring_step_s']:.2f} s = {rate:,.0f} people/s "
          f"(goal 500,000); peak RSS {s['peak_rss_mb']:,.0f} MiB")
    print(f"whole score command:    {c['command_s']:.2f} s (goal 30 s) "
          f"{json.dumps({k: round(v, 2) for k, v in c['command_steps_s'].items()})}; "
          f"peak RSS {c['peak_rss_mb']:,.0f} MiB")
    if "profile_refresh_s" in c:
        print(f"profiles: full build {c['profile_build_s']:.2f} s; refresh after the score "
              f"batch {c['profile_refresh_s']:.2f} s ({c['profile_refresh_mode']})")


if __name__ == "__main__":
    main()
