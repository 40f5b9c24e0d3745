"""Benchmark the synthetic data generator: generation alone, then generation + ingestion.

    python bench/generate.py                    # 1,000,000 users, both phases
    python bench/generate.py --users 100000 --phase generate

Each phase runs in its own child process so that its peak RSS (ru_maxrss) is its own. The
generation phase builds every Arrow table of every batch (events, profiles, ground truth) and
drops it; the ingestion phase writes them through `distillery.synth.generate` into a temporary
platform home. Goal on 2 cores: 1,000,000 users (about 10.6 million events) end to end in at
most 60 s, peak RSS under 4 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

AS_OF = datetime(2025, 3, 1, tzinfo=UTC)


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_generate(users: int, seed: int, scenario: str) -> dict[str, Any]:
    from distillery.synth import simulate

    start = time.perf_counter()
    events = converters = 0
    for batch in simulate(users, seed, as_of=AS_OF, scenario=scenario):
        events += batch.events.num_rows
        converters += batch.converters
    return {"seconds": time.perf_counter() - start, "events": events, "converters": converters}


def run_ingest(users: int, seed: int, scenario: str) -> dict[str, Any]:
    from distillery import Platform
    from distillery.synth import generate

    with tempfile.TemporaryDirectory(prefix="distillery-bench-") as home:
        platform = Platform.open(home)
        start = time.perf_counter()
        result = generate(platform, users, seed, as_of=AS_OF, scenario=scenario)
        seconds = time.perf_counter() - start
        platform.close()
    return {"seconds": seconds, "events": result.events, "converters": result.converters}


def child(phase: str, users: int, seed: int, scenario: str) -> dict[str, Any]:
    """Run one phase in a fresh interpreter and return its figures."""
    out = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--users", str(users), "--seed", str(seed),
         "--scenario", scenario, "--json"],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(phase: str, users: int, figures: dict[str, Any]) -> None:
    s = figures["seconds"]
    print(f"{phase:<22} {users:>10,} users {figures['events']:>12,} events  {s:7.2f} s  "
          f"{users / s:>10,.0f} users/s {figures['events'] / s:>12,.0f} events/s  "
          f"peak RSS {figures['peak_rss_mb']:7.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scenario", default="reference")
    parser.add_argument("--phase", choices=("generate", "ingest", "both"), default="both")
    parser.add_argument("--json", action="store_true", help="print one JSON line (internal)")
    args = parser.parse_args()
    phases = {"generate": run_generate, "ingest": run_ingest}
    if args.json:
        figures = phases[args.phase](args.users, args.seed, args.scenario)
        figures["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(figures))
        return
    wanted = ("generate", "ingest") if args.phase == "both" else (args.phase,)
    for phase in wanted:
        figures = child(phase, args.users, args.seed, args.scenario)
        label = "generation only" if phase == "generate" else "generation + ingestion"
        report(label, args.users, figures)
        if phase == "generate":
            print(f"{'':<22} {figures['events'] / args.users:.2f} events/user, "
                  f"{figures['converters'] / args.users:.2%} converters")


if __name__ == "__main__":
    main()
