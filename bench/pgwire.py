"""Benchmark the PostgreSQL endpoint: rows/s of a 1,000,000-row result through psycopg versus
the same query in process.

    python bench/pgwire.py                 # 1,000,000 rows, 3 runs each, best run reported
    python bench/pgwire.py --rows 200000 --runs 1

The server runs as `distillery serve` in its own process (as users run it), so the client
and the server do not share an interpreter. The query mixes the common types: a bigint, a
double, a text and a timestamp per row. Reported: in process (Arrow batches, and Python
tuples), then psycopg 3 (text and binary results) and psycopg2.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SQL = ("SELECT x AS id, CAST(x AS DOUBLE) / 7 AS score, concat('user-', CAST(x AS STRING)) "
       "AS name, TIMESTAMP '2024-01-01 00:00:00' + x * INTERVAL 1 SECOND AS at "
       "FROM range({rows}) t(x)")


def best(runs: int, fn: Callable[[], int]) -> tuple[int, float]:
    """(rows, seconds) of the fastest of `runs` calls of `fn`."""
    timings = []
    rows = 0
    for _ in range(runs):
        start = time.perf_counter()
        rows = fn()
        timings.append(time.perf_counter() - start)
    return rows, min(timings)


def in_process(home: Path, sql: str) -> dict[str, Callable[[], int]]:
    from distillery import Platform

    platform = Platform.open(home)

    def arrow() -> int:
        return sum(b.num_rows for b in platform.query(sql).reader())

    def tuples() -> int:
        return sum(len(b.to_pylist()) for b in platform.query(sql).reader())

    return {"in process, Arrow batches": arrow, "in process, Python rows": tuples}


def through_wire(dsn: str, sql: str) -> dict[str, Callable[[], int]]:
    import psycopg
    import psycopg2

    def psycopg3(binary: bool) -> Callable[[], int]:
        def run() -> int:
            with psycopg.connect(dsn, autocommit=True) as conn:
                cur = conn.cursor(binary=binary)
                cur.execute(sql)
                count = 0
                while batch := cur.fetchmany(100_000):
                    count += len(batch)
                return count
        return run

    def psycopg_2() -> int:
        conn = psycopg2.connect(dsn)
        try:
            cur = conn.cursor()
            cur.execute(sql)
            return len(cur.fetchall())
        finally:
            conn.close()

    return {"psycopg 3, text": psycopg3(False), "psycopg 3, binary": psycopg3(True),
            "psycopg2": psycopg_2}


def start_server(home: Path) -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen([sys.executable, "-m", "distillery", "--home", str(home), "serve",
                               "--port", "0", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line:
        raise SystemExit("the server did not start")
    return server, int(json.loads(line)["port"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sql = SQL.format(rows=args.rows)

    from distillery.sql.pgwire import connection_info, ensure_credentials

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        cases = in_process(home, sql)
        ensure_credentials(home)
        server, port = start_server(home)
        try:
            dsn = connection_info(home, port=port).dsn.replace("sslmode=prefer",
                                                                "sslmode=disable")
            cases |= through_wire(dsn, sql)
            results = {name: best(args.runs, fn) for name, fn in cases.items()}
        finally:
            server.terminate()
            server.wait(60)
    reference = results["in process, Arrow batches"]
    print(f"{args.rows:,}-row result (bigint, double, text, timestamp), best of {args.runs}:")
    for name, (rows, seconds) in results.items():
        assert rows == args.rows, (name, rows)
        print(f"  {name:<28} {seconds:7.2f} s  {rows / seconds:>12,.0f} rows/s  "
              f"({seconds / reference[1]:5.1f}x in-process Arrow time)")


if __name__ == "__main__":
    main()
