"""Benchmark scoring: every person of a synthetic population scored by a registered LightGBM
champion.

    python bench/score.py                       # 1,000,000 people in a temporary home
    python bench/score.py --users 100000 --home /tmp/bench-home   # keep and reuse the home
    python bench/score.py --home /tmp/h1m --compare-home /tmp/h2m --compare-users 2000000

Phase `prepare` (skipped when the home already holds a champion) generates the users, builds a
point-in-time training set and trains and registers a LightGBM model (early-stopped). Then it
measures:

- the scoring step alone: features already computed, the champion's calibrated probabilities in
  streaming batches plus the staging write (people/s), by the trees compiled to native code
  (what `distillery score` uses) and by LightGBM's own predict, in the same run; and a cold
  build of the compiled trees (done once per model, then kept in the registry);
- the whole `distillery score` (features + scoring + deciles + batch ingestion of the scores);
- with `--profiles`, a full build of the unified profiles (identity graph and merge of every
  person) and the refresh after the score batch (every scored person merged again);
- memory against population: the whole command's peak RSS for `--users` people and for
  `--compare-users` people (a second home, 250,000 by default; 0 skips it). Features stream
  in buckets of `--batch-rows` people, so the two should be close. A population of one bucket
  never has a second bucket in flight, so it sits a few hundred MiB lower than any larger
  one; compare two populations of several buckets (1M and 2M) to see the flat part.

Each measured phase runs in its own child process, so each peak RSS is its own. The machine is
shared: every figure is printed with the 1-minute load average when it was taken, and with the
CPU seconds the phase used (which load moves far less than wall time).

Goal on 2 cores: at least 500,000 people/s for the scoring step, the whole command within 30 s
for 1,000,000 people.
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

AS_OF = datetime(2025, 3, 1, tzinfo=UTC)
SCORE_AS_OF = AS_OF - timedelta(days=14)


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """CPU seconds this process used so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


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
    """The scoring step alone: features computed first, then scored in streaming batches, by
    the trees compiled to native code (what `distillery score` uses) and, in the same run, by
    LightGBM's own predict. Also times a cold build of the compiled trees."""
    import pyarrow as pa

    from distillery import Platform
    from distillery.ml.native import compile_booster
    from distillery.scoring import load_model
    from distillery.scoring.predict import feature_stream

    out: dict[str, Any] = {}
    with Platform.open(home) as p:
        start = time.perf_counter()
        model = load_model(p, "propensity@champion")
        out["load_s"], out["predictor"] = time.perf_counter() - start, model.probability.engine
        out["features"] = len(model.features)
        start = time.perf_counter()
        table = feature_stream(p, model, SCORE_AS_OF, batch_rows).read_all()
        out["features_s"], out["features_load"] = time.perf_counter() - start, load()
    fitted = model.probability.fitted
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        compile_booster(fitted._booster(), Path(tmp))
        out["cold_compile_s"] = time.perf_counter() - start
    native = fitted.native
    for name in ("native", "lightgbm"):
        fitted.native = native if name == "native" else None
        reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(batch_rows))
        out[name] = timed_step(reader, model, threads)
    out["people"] = out["native"]["people"]
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def timed_step(reader: Any, model: Any, threads: int) -> dict[str, Any]:
    """Seconds, CPU seconds and load average of one scoring pass over `reader`."""
    from distillery.scoring.predict import score_stream

    start, cpu = time.perf_counter(), cpu_s()
    with tempfile.TemporaryDirectory() as tmp:
        staged = score_stream(reader, model, Path(tmp) / "s.parquet", threads=threads)
    return {"s": time.perf_counter() - start, "cpu_s": cpu_s() - cpu, "load": load(),
            "people": staged.rows}


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
        cpu = cpu_s()
        result = score(p, "propensity@champion", as_of=SCORE_AS_OF, batch_rows=batch_rows,
                       threads=threads)
        out["command_s"], out["command_steps_s"] = result.seconds["total"], result.seconds
        out["command_cpu_s"], out["command_load"] = cpu_s() - cpu, load()
        out["people"] = result.rows
        if profiles:
            refresh = profiles_mod.refresh(p)
            out["profile_refresh_s"], out["profile_refresh_mode"] = refresh.seconds, refresh.mode
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def child(args: argparse.Namespace, phase: str, home: Path | None = None,
          users: int | None = None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--phase", phase, "--home", str(home or args.home),
           "--users", str(users or args.users), "--seed", str(args.seed), "--batch-rows",
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


def ensure(args: argparse.Namespace, home: Path, users: int) -> None:
    """Prepare `home` with `users` people and a champion unless it has one."""
    if has_champion(home):
        return
    prep = child(args, "prepare", home, users)
    print(f"prepared {users:,} users: generate {prep['generate_s']:.1f} s, "
          f"training set {prep['training_rows']:,} rows in {prep['training_set_s']:.1f}"
          f" s, train {prep['train_s']:.1f} s ({prep['trees']} trees)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--compare-users", type=int, default=250_000,
                        help="Population of the second home for the memory comparison "
                             "(0: skip).")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--compare-home", type=Path, default=None)
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
        ensure(args, args.home, args.users)
        s = child(args, "step")
        c = child(args, "command")
        other = None
        if args.compare_users:
            other_home = args.compare_home or Path(tmp) / "compare-home"
            ensure(args, other_home, args.compare_users)
            args.profiles = False
            other = child(args, "command", other_home, args.compare_users)
    report(s, c, other, args.batch_rows)


def report(s: dict[str, Any], c: dict[str, Any], other: dict[str, Any] | None,
           batch_rows: int) -> None:
    print(f"people scored:          {s['people']:,} ({s['features']} features)")
    print(f"model load:             {s['load_s']:.2f} s, predictor {s['predictor']}; a cold "
          f"build of the compiled trees takes {s['cold_compile_s']:.2f} s (once per model)")
    print(f"features (as of T):     {s['features_s']:.2f} s (load average "
          f"{s['features_load']:.1f})")
    for name, label in (("native", "compiled trees"), ("lightgbm", "LightGBM predict")):
        r = s[name]
        print(f"scoring step, {label + ':':17} {r['s']:.2f} s = {r['people'] / r['s']:,.0f} "
              f"people/s (goal 500,000); {r['cpu_s']:.2f} CPU s; load average {r['load']:.1f}")
    print(f"compiled trees / LightGBM predict: {s['lightgbm']['s'] / s['native']['s']:.2f}x "
          f"faster; peak RSS {s['peak_rss_mb']:,.0f} MiB (holds all features)")
    print(f"whole score command:    {c['command_s']:.2f} s (goal 30 s), "
          f"{c['command_cpu_s']:.1f} CPU s, load average {c['command_load']:.1f} "
          f"{json.dumps({k: round(v, 2) for k, v in c['command_steps_s'].items()})}; "
          f"peak RSS {c['peak_rss_mb']:,.0f} MiB")
    if "profile_refresh_s" in c:
        print(f"profiles: full build {c['profile_build_s']:.2f} s; refresh after the score "
              f"batch {c['profile_refresh_s']:.2f} s ({c['profile_refresh_mode']})")
    if other is not None:
        print(f"memory vs population (buckets of {batch_rows:,} people): peak RSS of the "
              f"command {c['peak_rss_mb']:,.0f} MiB for {c['people']:,} people, "
              f"{other['peak_rss_mb']:,.0f} MiB for {other['people']:,} people "
              f"({other['command_s']:.2f} s, {other['command_cpu_s']:.1f} CPU s, load "
              f"average {other['command_load']:.1f})")

if __name__ == "__main__":
    main()
