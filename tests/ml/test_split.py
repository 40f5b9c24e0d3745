"""Splits by person and by time."""

from __future__ import annotations

import numpy as np
import pytest

from distillery.ml.errors import TrainingError
from distillery.ml.split import make


def _data(rows: int = 2000, persons: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.random(rows) < 0.3).astype(int), rng.integers(0, persons, rows).astype(str)


def test_no_person_is_on_both_sides_of_any_split() -> None:
    y, persons = _data()
    split = make(y, persons, None, folds=5, test_size=0.2, seed=3)
    assert set(persons[split.test]).isdisjoint(persons[split.dev])
    assert sorted(np.concatenate([split.dev, split.test])) == list(range(len(y)))
    for fit, valid in split.folds:
        assert set(persons[fit]).isdisjoint(persons[valid])
        assert sorted(np.concatenate([fit, valid])) == sorted(split.dev)
    held = np.concatenate([v for _, v in split.folds])
    assert sorted(held) == sorted(split.dev)
    assert 0.15 < len(set(persons[split.test])) / split.persons < 0.25


def test_the_split_depends_on_the_seed_only() -> None:
    y, persons = _data()
    a, b = make(y, persons, None, seed=1), make(y, persons, None, seed=1)
    c = make(y, persons, None, seed=2)
    assert a.test.tolist() == b.test.tolist() and a.test.tolist() != c.test.tolist()


def test_several_cutoffs_put_the_latest_in_test_and_earlier_in_development() -> None:
    y, persons = _data()
    cutoffs = np.array(["2025-01-01", "2025-01-08", "2025-01-15"], dtype="datetime64[us]")[
        np.arange(len(y)) % 3]
    split = make(y, persons, cutoffs, folds=3, seed=0)
    assert split.by_time
    assert set(cutoffs[split.test]) == {cutoffs.max()}
    assert cutoffs[split.dev].max() < cutoffs.max()
    assert set(persons[split.test]).isdisjoint(persons[split.dev])


def test_too_few_positives_for_the_folds_is_a_clear_error() -> None:
    y = np.zeros(100, dtype=int)
    y[:3] = 1
    with pytest.raises(TrainingError, match="needs both classes"):
        make(y, None, None, folds=10)


@pytest.mark.parametrize(("kwargs", "message"), [({"folds": 1}, "folds must be at least 2"),
                                                 ({"test_size": 1.0}, "test_size must be")])
def test_bad_split_options(kwargs: dict, message: str) -> None:
    y, persons = _data()
    with pytest.raises(TrainingError, match=message):
        make(y, persons, None, **kwargs)
