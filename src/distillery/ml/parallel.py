"""Using both cores without oversubscribing them.

LightGBM, XGBoost and HistGradientBoosting parallelise with OpenMP, whose threads spin while
they wait for each other: on a machine shared with other work, two such threads on two busy
cores run an order of magnitude slower than one (measured: a LightGBM fit took 0.6 s with one
thread and 9 s with two under load). So each estimator gets one thread, and Distillery runs
independent fits (tuning trials, cross-validation folds, the final fit) side by side on a pool
of Python threads; the libraries release the GIL while they fit.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


def cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def run(tasks: Iterable[Callable[[], T]], jobs: int) -> list[T]:
    """Run `tasks` on `jobs` threads; results in the tasks' order (the first error raises)."""
    tasks = list(tasks)
    if jobs <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
        futures = [pool.submit(task) for task in tasks]
        return [f.result() for f in futures]


@contextmanager
def one_thread_per_fit() -> Iterator[Any]:
    """Limit OpenMP and BLAS pools to one thread while the block runs."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1) as limits:
        yield limits

