"""Running an iterator ahead in a thread keeps its items, order and errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from distillery.synth.prefetch import prefetch


def test_items_in_order() -> None:
    assert list(prefetch(range(100), depth=3)) == list(range(100))
    assert list(prefetch(range(5), depth=0)) == list(range(5))


def test_producer_error_reaches_the_consumer() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise RuntimeError("boom")

    got = []
    with pytest.raises(RuntimeError, match="boom"):
        for item in prefetch(broken()):
            got.append(item)
    assert got == [1]


def test_consumer_stopping_early_stops_the_producer() -> None:
    made = []

    def endless() -> Iterator[int]:
        i = 0
        while True:
            made.append(i)
            yield i
            i += 1

    items = prefetch(endless(), depth=2)
    assert next(items) == 0
    items.close()
    assert len(made) <= 5
