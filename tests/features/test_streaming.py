"""compute_features streams buckets of people (a hash of the person id splits them): every
person lands in exactly one bucket, and the buckets together are exactly the one table a
training set gets, from raw events, from an incremental state, with or without the people
who converted, and with profile attributes."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest

from distillery import Platform
from distillery.features import FeatureDefinition, FeatureError, build_training_set
from distillery.features.compute import compute_features, features_table
from tests.features.conftest import Ingest, T
from tests.features.test_incremental import random_events


def streamed(platform: Platform, d: FeatureDefinition, batch_size: int,
             **options: object) -> tuple[list[pa.RecordBatch], pa.Table]:
    reader = compute_features(platform, d, T, batch_size=batch_size, **options)
    batches = list(reader)
    return batches, pa.Table.from_batches(batches, schema=reader.schema)


def same_rows(a: pa.Table, b: pa.Table, key: str = "userid") -> bool:
    return a.num_rows > 0 and a.sort_by(key).equals(b.sort_by(key))


@pytest.fixture
def definition(platform: Platform, ingest: Ingest) -> FeatureDefinition:
    ingest(random_events(0))
    ingest(random_events(1))
    return build_training_set(platform, "events", "training", [T], horizon="7d",
                              population="all", measures=["commerce.order.priceTotal"]
                              ).definition


@pytest.mark.parametrize("population", ["all", "not-converted"])
def test_buckets_together_are_the_one_table(platform: Platform, definition: FeatureDefinition,
                                            population: str) -> None:
    whole = features_table(platform, definition, T, population=population)
    batches, table = streamed(platform, definition, 15, population=population)
    assert len(batches) >= 4  # about 120 people in buckets of about 15
    people = table.column("userid").to_pylist()
    assert len(people) == len(set(people))  # nobody in two buckets
    assert same_rows(table, whole)
    # A bucket is about batch_size people: the count is approximate, the hash uneven.
    assert max(b.num_rows for b in batches) < 3 * 15


def test_a_large_batch_size_is_one_bucket(platform: Platform,
                                          definition: FeatureDefinition) -> None:
    batches, table = streamed(platform, definition, 100_000)
    assert len(batches) == 1 and same_rows(table, features_table(platform, definition, T))


def test_buckets_from_an_incremental_state(platform: Platform,
                                           definition: FeatureDefinition) -> None:
    batches, table = streamed(platform, definition, 20, state="state")
    assert len(batches) >= 3
    assert same_rows(table, features_table(platform, definition, T))


def test_buckets_with_profile_attributes(synth: Platform) -> None:
    built = build_training_set(synth, "experience_events", "with_profiles", [T],
                               profiles="profiles", profiles_as_of="latest",
                               profile_attributes=["loyalty.tier", "loyalty.points"],
                               population="all", replace=True)
    d = built.definition
    batches, table = streamed(synth, d, 700)
    assert len(batches) >= 3
    assert table.schema.names[-2:] == ["profile__loyalty_tier", "profile__loyalty_points"]
    assert same_rows(table, features_table(synth, d, T, population="all"))


def test_bad_batch_size_and_options_fail_when_called(platform: Platform,
                                                     definition: FeatureDefinition) -> None:
    with pytest.raises(FeatureError, match="batch_size must be a positive"):
        compute_features(platform, definition, T, batch_size=0)
    # Checked before any bucket is read, not when the stream is first read.
    with pytest.raises(FeatureError, match="population must be one of"):
        compute_features(platform, definition, T, population="some")
    with pytest.raises(FeatureError, match="on that grain"):
        compute_features(platform, definition, T + timedelta(hours=1), state="state")
