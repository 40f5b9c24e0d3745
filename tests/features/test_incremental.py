"""Incremental featurization: a state updated from new snapshots only gives exactly what a
full recompute gives."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest

from distillery import Platform
from distillery.features import (
    FeatureDefinition,
    FeatureError,
    build_training_set,
    compute_features,
)
from distillery.features.incremental import update_state
from tests.features.conftest import Ingest, T, ev

TYPES = ("commerce.purchases", "commerce.productViews", "web.formFilledOut", "other.thing")


def random_events(seed: int, n: int = 600) -> list[dict]:
    """Events at random times around T; purchases carry values exact in binary (k / 4)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        kind = TYPES[rng.integers(len(TYPES))]
        when = T + timedelta(seconds=int(rng.integers(-40 * 86_400, 10 * 86_400)),
                             microseconds=int(rng.integers(1_000_000)))
        value = float(rng.integers(1, 400)) / 4 if kind == "commerce.purchases" else None
        out.append(ev(int(rng.integers(1, 120)), kind, when, value))
    return out


def same(a: pa.Table, b: pa.Table) -> bool:
    return a.sort_by("userid").equals(b.sort_by("userid"))


@pytest.fixture
def definition(platform: Platform, ingest: Ingest) -> FeatureDefinition:
    ingest(random_events(0))
    return build_training_set(platform, "events", "training", [T], horizon="7d",
                              population="all").definition


def test_state_after_several_batches_equals_a_full_recompute(
        platform: Platform, ingest: Ingest, definition: FeatureDefinition) -> None:
    first = update_state(platform, "state", "events")
    assert (first.mode, first.events_version) == ("created", 1)
    for seed in (1, 2, 3):
        ingest(random_events(seed))
        done = update_state(platform, "state")
        assert (done.mode, done.previous_version, done.files_read) == ("appended", seed, 1)
        for cutoff in (T, T + timedelta(days=3)):
            full = compute_features(platform, definition, cutoff).read_all()
            incremental = compute_features(platform, definition, cutoff, state="state").read_all()
            assert full.num_rows > 0 and same(full, incremental), (seed, cutoff)
    assert update_state(platform, "state").mode == "current"


def test_a_reverted_batch_rebuilds_the_state(platform: Platform, ingest: Ingest,
                                            definition: FeatureDefinition) -> None:
    update_state(platform, "state", "events")
    batch = ingest(random_events(5))
    update_state(platform, "state")
    platform.lake.revert_batch(batch.id)
    done = update_state(platform, "state")
    assert done.mode == "rebuilt"
    assert same(compute_features(platform, definition, T).read_all(),
                compute_features(platform, definition, T, state="state").read_all())


def test_training_set_from_state_equals_one_from_events(platform: Platform, ingest: Ingest,
                                                        definition: FeatureDefinition) -> None:
    ingest(random_events(7))
    from_events = build_training_set(platform, "events", "a", [T, T + timedelta(days=2)],
                                     horizon="7d", population="all")
    from_state = build_training_set(platform, "events", "b", [T, T + timedelta(days=2)],
                                    horizon="7d", population="all", state="state")
    assert from_state.per_cutoff == from_events.per_cutoff
    a = platform.query("SELECT * FROM a").arrow()
    b = platform.query("SELECT * FROM b").arrow()
    assert a.sort_by([("cutoff", "ascending"), ("userid", "ascending")]).equals(
        b.sort_by([("cutoff", "ascending"), ("userid", "ascending")]))


def test_cutoffs_off_the_grain_are_refused(platform: Platform,
                                           definition: FeatureDefinition) -> None:
    with pytest.raises(FeatureError, match="answers cutoffs on that grain"):
        compute_features(platform, definition, T + timedelta(hours=3), state="state")


def test_state_options_must_match(platform: Platform, ingest: Ingest,
                                  definition: FeatureDefinition) -> None:
    with pytest.raises(FeatureError, match="does not exist; name its events dataset"):
        update_state(platform, "state")
    update_state(platform, "state", "events", measures=[])
    with pytest.raises(FeatureError, match="does not sum measures"):
        compute_features(platform, definition, T, state="state")
    ingest([ev(1, "x", T)], name="other_events")
    with pytest.raises(FeatureError,
                       match="state 'state' aggregates dataset 'events', not 'other_events'"):
        update_state(platform, "state", "other_events")
    with pytest.raises(FeatureError, match="is not a feature state"):
        update_state(platform, "training")


def test_two_updates_of_the_same_range_land_once(platform: Platform, ingest: Ingest,
                                                 definition: FeatureDefinition,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from distillery.features import incremental

    update_state(platform, "state", "events")
    ingest(random_events(11))
    # A second updater that read the watermark before the first one committed.
    monkeypatch.setattr(incremental, "watermark", lambda platform, record: 1)
    first, second = update_state(platform, "state"), update_state(platform, "state")
    assert (first.mode, second.mode) == ("appended", "appended")
    monkeypatch.undo()
    assert same(compute_features(platform, definition, T).read_all(),
                compute_features(platform, definition, T, state="state").read_all())
