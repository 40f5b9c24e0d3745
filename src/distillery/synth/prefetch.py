"""Run an iterator ahead in a background thread, a bounded number of items ahead.

Generation and ingestion each spend most of their time in NumPy, Arrow and Parquet code that
releases the GIL, so building the next batch while the current one is written keeps both cores
busy without copying batches between processes (a pickled batch costs more than building it).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def prefetch(items: Iterable[T], depth: int = 2) -> Generator[T, None, None]:
    """Yield the items of `items`, produced by a background thread up to `depth` ahead.

    An exception in the producer is raised in the consumer; a consumer that stops early (or
    raises) stops the producer at its next item.

    Args:
        items: The iterable to run ahead.
        depth: How many items may wait, ready, at once (memory is bounded by depth + 2 items).
    """
    if depth < 1:
        yield from items
        return
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(ready, item, stop):
                    return
            _put(ready, _DONE, stop)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            _put(ready, exc, stop)

    worker = threading.Thread(target=produce, name="distillery-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def _put(ready: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    """Put `item` unless the consumer has stopped; False if it has."""
    while not stop.is_set():
        try:
            ready.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
