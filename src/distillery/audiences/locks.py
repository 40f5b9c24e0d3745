"""Exclusive locks between processes (an evaluation of an audience, an activation of an
audience to a destination), as files under the sandbox's `runs/locks/`.

An OS file lock disappears with the process that held it, so a crash never leaves a stale
lock behind.
"""

from __future__ import annotations

import fcntl
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from distillery.errors import DistilleryError


class LockedError(DistilleryError, RuntimeError):
    """Another process holds the lock; try again when it is done."""

    retryable = True


@contextmanager
def exclusive(root: Path, name: str, *, wait_s: float = 30.0) -> Iterator[None]:
    """Hold the lock `name` under `root/runs/locks`, waiting up to `wait_s` for it."""
    folder = root / "runs" / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".lock")
    with path.open("a") as fh:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockedError(f"{name} is being run by another process; try again "
                                      "when it has finished") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
