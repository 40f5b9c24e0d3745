"""Benchmark featurization and scoring on Spark (local[2]) next to DuckDB, in the same run.

    python bench/spark.py                          # 1,000,000 users (about 10.6 million events)
    python bench/spark.py --users 100000
    python bench/spark.py --home DIR               # reuse (or keep) the generated home

The synthetic events come from `distillery.synth.generate` unless the home holds them already;
a LightGBM champion is trained once on DuckDB (no search, two folds: the model's quality does
not matter here, only that both engines score with the same one). Then each engine runs in its
own child process, so the peak RSS of its driver is its own:

- featurization: `build_training_set` at one cutoff with a 14-day horizon (the engine computes
  the per-person, per-event-type aggregates from the snapshot's Parquet files; the driver pivots
  them, labels the rows and writes the dataset through batch ingestion);
- scoring: every person as of the run's time, by the champion: `distillery.scoring.score` on
  DuckDB (prediction on the driver's threads), `distillery.scoring.spark.score` on Spark
  (prediction on the executors with mapInArrow); ranks and the score dataset's batch as usual.

Printed per engine: seconds, rows, rows/s, peak RSS of the driver (on Spark the Python driver
and the JVM, which in local mode is the driver and the executors together, with its heap
limit: the engine's default for a local context unless --driver-memory is given), and the
ratio of the times; then whether both engines wrote the same rows. Spark's start-up is timed
apart.
"""

from __future__ import annotations

import argparse
import json
import os
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
EVENTS = "experience_events"
MODEL_SET = "bench_spark_model_training"
ENGINES = ("duckdb", "spark")


def vm_hwm_mb(pid: int | str = "self") -> float:
    """Peak resident set size of a process in MiB (VmHWM), 0 when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def jvm_peak_mb() -> float:
    """Peak RSS of the JVM this process started (local Spark), 0 when there is none."""
    me = str(os.getpid())
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        parent = next((ln.split()[1] for ln in text.splitlines() if ln.startswith("PPid:")), "")
        if parent == me and "java" in text.splitlines()[0]:
            return vm_hwm_mb(status.parent.name)
    return 0.0


def jvm_heap_mb(platform: Any) -> float:
    """The maximum heap of the local JVM (driver and executors), in MiB."""
    runtime = platform.engine.spark.sparkContext._jvm.java.lang.Runtime.getRuntime()
    return float(runtime.maxMemory()) / 2**20


def prepare(home: Path, users: int, seed: int) -> dict[str, Any]:
    """Generate the events unless present; train a champion unless there is one."""
    from distillery import Platform, ml
    from distillery.features import build_training_set
    from distillery.ml.errors import ModelNotFoundError
    from distillery.synth import generate

    figures: dict[str, Any] = {"reused": True, "generate_s": 0.0, "train_s": 0.0}
    with Platform.open(home) as platform:
        existing = platform.lake.catalog.find_dataset(EVENTS)
        if existing is None or existing.version <= 0:
            start = time.perf_counter()
            generate(platform, users, seed, as_of=AS_OF, truth=False,  # type: ignore[arg-type]
                     batch_users=100_000)
            figures.update(reused=False, generate_s=time.perf_counter() - start)
        figures["events"] = platform.query(f"SELECT count(*) FROM {EVENTS}").scalar()
        try:
            ml.load_champion(platform)
        except ModelNotFoundError:
            start = time.perf_counter()
            build_training_set(platform, EVENTS, MODEL_SET, [CUTOFF - timedelta(days=14)],
                               horizon=HORIZON, replace=True)
            ml.train(platform, MODEL_SET, model="lightgbm", trials=0, folds=2, baseline=False,
                     plots=False, shap=False, ground_truth=False)
            figures["train_s"] = time.perf_counter() - start
    return figures


def run_engine(engine: str, home: Path, master: str, driver_memory: str | None,
               repeat: int) -> dict[str, Any]:
    """Featurize and score on one engine, `repeat` times each; the figures of this process.

    The first run of each step is cold (on Spark: class loading, JIT, Python workers that
    import the model's libraries); later runs are warm. Both are reported.
    """
    from distillery import Platform
    from distillery.config import SparkConfig
    from distillery.features import build_training_set
    from distillery.scoring import score
    from distillery.scoring import spark as spark_scoring

    platform = Platform.open(home, engine=engine)
    conf = {"spark.driver.memory": driver_memory} if driver_memory else {}
    platform.config = platform.config.model_copy(update={"spark": SparkConfig(
        master=master, conf=conf)})
    figures: dict[str, Any] = {"engine": engine}
    start = time.perf_counter()
    platform.engine  # noqa: B018 (start the engine now, so its start-up is timed apart)
    figures["start_s"] = time.perf_counter() - start
    figures["heap_mb"] = jvm_heap_mb(platform) if engine == "spark" else 0
    scorer = spark_scoring.score if engine == "spark" else score
    output = f"bench_training_{engine}"
    if platform.lake.catalog.find_dataset(output) is not None:
        platform.drop_dataset(output)  # made by an earlier run, perhaps by older code
    for _ in range(repeat):
        start = time.perf_counter()
        built = build_training_set(platform, EVENTS, output, [CUTOFF], horizon=HORIZON,
                                   replace=True)
        figures.setdefault("featurize_s", []).append(time.perf_counter() - start)
        figures.update(featurize_rows=built.rows, positives=built.positives)
    for _ in range(repeat):
        start = time.perf_counter()
        scored = scorer(platform, as_of=AS_OF, dataset=f"bench_scores_{engine}")
        figures.setdefault("score_s", []).append(time.perf_counter() - start)
        figures.update(score_rows=scored.rows,
                       score_steps={k: round(v, 2) for k, v in scored.seconds.items()})
    figures["driver_peak_mb"] = vm_hwm_mb()
    figures["jvm_peak_mb"] = jvm_peak_mb()
    platform.close()
    return figures


def child(engine: str, args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """Run one engine in a fresh interpreter and return its figures."""
    command = [sys.executable, __file__, "--phase", engine, "--home", str(home),
               "--master", args.master, "--repeat", str(args.repeat)]
    if args.driver_memory:
        command += ["--driver-memory", args.driver_memory]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if not ln.startswith(("\tat ", " "))]
        raise SystemExit(f"{engine} failed (exit {done.returncode}):\n" + "\n".join(lines[-25:]))
    return json.loads(done.stdout.strip().splitlines()[-1])


def same_rows(home: Path) -> dict[str, str]:
    """Whether both engines wrote the same training set and the same scores (the latest
    scoring run of each): counts and text exactly, floats to 1e-9 relative."""
    from distillery import Platform

    scores = ("SELECT _tenant.userid AS userid, _tenant.propensity AS propensity, "
              "_tenant.decile AS decile, _tenant.percentile AS percentile FROM {t} "
              "WHERE _tenant.scoredAt = (SELECT max(_tenant.scoredAt) FROM {t})")
    checks = {"training set": "SELECT * FROM bench_training_{e}",
              "scores": scores.replace("{t}", "bench_scores_{e}")}
    out = {}
    with Platform.open(home) as platform:
        for name, sql in checks.items():
            left, right = (platform.query(sql.format(e=e)).arrow().sort_by("userid")
                           for e in ENGINES)
            out[name] = difference(left, right)
    return out


def difference(left: Any, right: Any) -> str:
    """'identical', or the first difference between two sorted tables."""
    import numpy as np
    import pyarrow as pa

    if left.schema != right.schema or left.num_rows != right.num_rows:
        return f"DIFFERENT shape: {left.num_rows} vs {right.num_rows} rows"
    for name in left.column_names:
        a, b = left.column(name), right.column(name)
        if pa.types.is_floating(a.type):
            x = a.to_numpy(zero_copy_only=False).astype(float)
            y = b.to_numpy(zero_copy_only=False).astype(float)
            same = np.isclose(x, y, rtol=1e-9, atol=1e-12, equal_nan=True)
            if not same.all():
                return f"DIFFERENT {name}: {int((~same).sum())} rows"
        elif not a.equals(b):
            return f"DIFFERENT {name}"
    return "identical"


def report(f: dict[str, Any], base: dict[str, Any]) -> None:
    for step in ("featurize", "score"):
        rows = f[f"{step}_rows"]
        runs = {"cold": f[f"{step}_s"][0], "warm": min(f[f"{step}_s"][1:], default=None)}
        for kind, seconds in runs.items():
            if seconds is None:
                continue
            reference = base[f"{step}_s"][0 if kind == "cold" else -1]
            print(f"{f['engine']:<7} {step:<9} {kind} {seconds:8.2f} s {rows:>10,} rows "
                  f"{rows / seconds:>11,.0f} rows/s  {seconds / reference:6.2f}x DuckDB")
    jvm = (f" + JVM {f['jvm_peak_mb']:,.0f} MiB (heap limit {f['heap_mb']:,.0f} MiB)"
           if f["jvm_peak_mb"] else "")
    print(f"{f['engine']:<7} start {f['start_s']:.1f} s; peak RSS driver "
          f"{f['driver_peak_mb']:,.0f} MiB{jvm}; last scoring's steps {f['score_steps']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--home", type=Path, help="home to reuse or keep (default: temporary)")
    parser.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    parser.add_argument("--driver-memory", default=None,
                        help="spark.driver.memory (default: the engine's, from the machine's "
                             "memory)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs of each step per engine (the first is cold)")
    parser.add_argument("--phase", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(run_engine(args.phase, args.home, args.master, args.driver_memory,
                                    max(1, args.repeat))))
        return
    with tempfile.TemporaryDirectory(prefix="distillery-spark-bench-") as scratch:
        home = args.home or Path(scratch) / "home"
        made = prepare(home, args.users, args.seed)
        how = "reused" if made["reused"] else f"generated in {made['generate_s']:.1f} s"
        model = f"trained in {made['train_s']:.1f} s" if made["train_s"] else "reused"
        print(f"events: {made['events']:,} for {args.users:,} users ({how}); champion "
              f"{model}; Spark master {args.master}; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        results = {e: child(e, args, home) for e in ENGINES}
        for engine in ENGINES:
            report(results[engine], results["duckdb"])
        check = same_rows(home)
        print("check: " + "; ".join(f"{k} {v}" for k, v in check.items()))


if __name__ == "__main__":
    main()
