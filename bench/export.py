"""Benchmark exports: a flat training set of N rows (default 10,000,000) to local Parquet
(zstd) and to an S3 server on 127.0.0.1 (moto, started here), through the export dataflow.

    python bench/export.py                       # 10,000,000 rows, both targets
    python bench/export.py --rows 1000000 --target local

The dataset is built in a temporary home with `platform.lake.write`, in slices, so building
it does not hold every row at once. Each export runs in its own child process, so its peak
RSS (ru_maxrss) is its own: exports stream record batches, so the figure should not grow with
the row count. Prints rows/s, MB/s (of files written) and peak RSS; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

SLICE = 1_000_000


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def training_slice(start: int, n: int, rng: np.random.Generator) -> pa.Table:
    """Rows shaped like the reference's training set: 14 features, a label, a user id."""
    ids = np.arange(start, start + n)
    counts = {name: rng.poisson(lam, n).astype(np.int64) for name, lam in (
        ("emailsReceived", 5), ("emailsOpened", 2), ("emailsClicked", 0.5),
        ("productsViewed", 1), ("propositionInteracts", 0.3), ("propositionDismissed", 0.2),
        ("webLinkClicks", 0.6))}
    recency = {f"minutes_since_{name}": np.where(rng.random(n) < 0.3, np.nan,
                                                 rng.exponential(5000, n))
               for name in ("emailSent", "emailOpened", "emailClick", "productView",
                            "propositionInteract", "propositionDismiss", "linkClick")}
    return pa.table({
        "userId": pa.array(np.char.add("user-", ids.astype(str)).astype(object)),
        **counts,
        **{k: pa.array(v, from_pandas=True) for k, v in recency.items()},
        "subscriptionOccurred": (rng.random(n) < 0.15).astype(np.int64),
    })


def build(home: Path, rows: int) -> None:
    from distillery import Platform

    rng = np.random.default_rng(7)
    with Platform.open(home) as platform:
        for start in range(0, rows, SLICE):
            platform.lake.write("training", training_slice(start, min(SLICE, rows - start),
                                                          rng))


def run_export(home: Path, url: str, fmt: str, compression: str) -> dict[str, Any]:
    from distillery import Platform
    from distillery.flows.dataflows import Dataflows

    with Platform.open(home) as platform:
        start = time.perf_counter()
        rec = Dataflows(platform).export("training", url, format=fmt, compression=compression)
        seconds = time.perf_counter() - start
    if rec.state != "success":
        raise SystemExit(f"export failed: {rec.error}")
    return {"rows": rec.rows, "bytes": rec.bytes, "files": rec.files, "seconds": seconds,
            "peak_rss_mb": peak_rss_mb()}


def start_s3(workdir: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (workdir / "moto.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto server did not start")


def configure_s3(home: Path, endpoint: str) -> None:
    from distillery.flows import connections as conns
    from distillery.flows.storage import open_storage

    os.environ.setdefault("BENCH_S3_KEY", "bench")
    os.environ.setdefault("BENCH_S3_SECRET", "bench")
    conns.save_connection(home, "s3", conns.make_connection("s3", {
        "protocol": "s3", "endpoint_url": endpoint,
        "secrets": {"key": "env:BENCH_S3_KEY", "secret": "env:BENCH_S3_SECRET"}}))
    open_storage("s3://bench", home=home).makedirs()


def child(args: argparse.Namespace) -> None:
    result = run_export(Path(args.home), args.url, args.format, args.compression)
    sys.stdout.write(json.dumps(result) + "\n")


def measure(home: Path, url: str, fmt: str, compression: str, label: str) -> None:
    cmd = [sys.executable, __file__, "--child", "--home", str(home), "--url", url,
           "--format", fmt, "--compression", compression]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{label}: {done.stderr[-2000:]}")
    r = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{label:<28} {r['rows']:>12,} rows {r['seconds']:8.2f} s "
          f"{r['rows'] / r['seconds']:>12,.0f} rows/s {r['bytes'] / 1e6 / r['seconds']:8.1f} MB/s "
          f"({r['bytes'] / 1e6:,.0f} MB in {r['files']} files) peak RSS "
          f"{r['peak_rss_mb']:,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--target", choices=["local", "s3", "both"], default="both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--format", default="parquet", help=argparse.SUPPRESS)
    parser.add_argument("--compression", default="zstd", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="distillery-bench-export-") as tmp:
        work = Path(tmp)
        home = work / "home"
        start = time.perf_counter()
        build(home, args.rows)
        print(f"built a {args.rows:,}-row training set in {time.perf_counter() - start:.1f} s")
        if args.target in ("local", "both"):
            measure(home, str(work / "egress"), "parquet", "zstd", "local parquet zstd")
        if args.target in ("s3", "both"):
            proc, endpoint = start_s3(work)
            try:
                configure_s3(home, endpoint)
                measure(home, "s3://bench/cmle/egress", "parquet", "zstd", "s3 (moto) parquet zstd")
                measure(home, "s3://bench/cmle/egress", "parquet", "gzip", "s3 (moto) parquet gzip")
            finally:
                proc.terminate()
                proc.wait(timeout=30)


if __name__ == "__main__":
    main()
