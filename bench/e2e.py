"""Benchmark: the whole loop, `distillery run`, per step and in total.

Runs `distillery run --users N --json` in a fresh home for each population asked for and prints
each step's seconds, processor seconds (all threads) and rows, the total, and the peak RSS of
the run, with the load average before and after it (the machines are shared: contention
inflates wall time, processor time far less). Goal (issue "The
whole loop"): at most 60 s for 100,000 users and 6 minutes for 1,000,000, peak RSS under 8 GB.

    .venv/bin/python bench/e2e.py [--users 100000 1000000] [--trials 10]

`--trials` defaults to the loop's own default (`LoopOptions.trials`).
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

from distillery.pipeline.loop import LoopOptions


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run(users: int, trials: int) -> None:
    before = load()
    with tempfile.TemporaryDirectory() as home:
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "distillery", "--home", home, "run", "--users", str(users),
             "--trials", str(trials), "--json"], capture_output=True, text=True)
        wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(f"{users:,} users: failed\n{proc.stderr}")
        return
    summary = json.loads(proc.stdout)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\n{users:,} users, {trials} trials (load average before {before}, after {load()})")
    for step in summary["steps"]:
        print(f"  {step['name']:<14} {step['seconds']:8.1f} s  {step['cpu_seconds']:8.1f} s cpu"
              f"  {step['rows']:>12,} rows")
    print(f"  {'total':<14} {summary['seconds']:8.1f} s  {summary['cpu_seconds']:8.1f} s cpu"
          f"  (process wall {wall:.1f} s, peak RSS {peak:,.0f} MB)")
    print(f"  ROC AUC {summary['roc_auc']:.4f}, latent {summary['latent_auc']:.4f}, "
          f"clairvoyant {summary['clairvoyant_auc']:.4f}, ECE {summary['ece']:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--trials", type=int, default=LoopOptions().trials)
    args = parser.parse_args()
    for users in args.users:
        run(users, args.trials)


if __name__ == "__main__":
    main()
