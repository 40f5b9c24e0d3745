"""A process killed with SIGKILL in the middle of a large batch leaves the dataset exactly as
it was; a later retry of the same batch id commits once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from distillery import Platform
from distillery.lake import tables
from tests.conftest import event_rows

WRITER = textwrap.dedent("""
    import sys
    import pyarrow as pa
    from distillery import Platform
    from tests.conftest import event_rows

    platform = Platform.open(sys.argv[1])
    chunk = pa.Table.from_pylist(event_rows(1)).take([0] * 200_000)
    with platform.create_batch("events", "big-batch") as batch:
        for i in range(int(sys.argv[2])):
            batch.add(chunk)
            print(f"staged {i + 1}", flush=True)
""")


def _run_writer(home: Path, chunks: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen([sys.executable, "-c", WRITER, str(home), str(chunks)],
                            stdout=subprocess.PIPE, text=True, env=env)


@pytest.mark.slow
def test_sigkill_mid_batch_loses_nothing_and_retry_commits_once(platform: Platform, events,
                                                                home: Path) -> None:
    platform.ingest(events, event_rows(10), batch_id="before")
    proc = _run_writer(home, chunks=1000)
    staged = 0
    deadline = time.monotonic() + 120
    while staged < 3 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        staged = int(line.split()[1])
    assert staged >= 3, "the writer never got going"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    # The Parquet files it staged exist, but no commit refers to them.
    path = platform.lake.path(events)
    assert list(path.glob("part-big-batch-*.parquet"))
    assert tables.version(path) == 1
    assert platform.query("SELECT count(*) FROM events").scalar() == 10
    assert platform.batch("big-batch").state == "loading"

    retry = _run_writer(home, chunks=2)
    assert retry.wait(timeout=300) == 0
    again = _run_writer(home, chunks=2)
    assert again.wait(timeout=300) == 0
    assert platform.query("SELECT count(*) FROM events").scalar() == 10 + 400_000
    assert platform.batch("big-batch").state == "success"
    assert tables.version(path) == 2
