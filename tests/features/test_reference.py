"""The reference-compatible, row-level training set."""

from __future__ import annotations

from datetime import timedelta

import pytest

from distillery import Platform
from distillery.features import FeatureDefinition, FeatureError
from distillery.features.reference import build_reference_training_set, reference_columns
from tests.features.conftest import Ingest, T, ev, person

SENT, OPENED = "directMarketing.emailSent", "directMarketing.emailOpened"
VIEW, LINK, FORM = "commerce.productViews", "web.webinteraction.linkClicks", "web.formFilledOut"


def at(minutes: float):
    return T + timedelta(minutes=minutes)


@pytest.fixture
def story(ingest: Ingest) -> None:
    """Person 1 converts at minute 26 (and again at 40); person 2 never converts."""
    ingest([
        ev(1, SENT, at(0), event_id="a0"), ev(1, OPENED, at(10), event_id="a1"),
        ev(1, SENT, at(20), event_id="a2"), ev(1, VIEW, at(25), event_id="a3"),
        ev(1, FORM, at(26), event_id="a4"), ev(1, LINK, at(30), event_id="a5"),
        ev(1, FORM, at(40), event_id="a6"),
        ev(2, SENT, at(0), event_id="b0"), ev(2, SENT, at(5), event_id="b1"),
        ev(2, VIEW, at(9), event_id="b2"),
    ])


# What each of person 2's rows would carry (running counts; minutes since the last match).
PERSON_2_ROWS = {
    at(0): {"emailsReceived": 1, "productsViewed": 0, "minutes_since_emailSent": 0.0,
            "minutes_since_productView": None},
    at(5): {"emailsReceived": 2, "productsViewed": 0, "minutes_since_emailSent": 0.0,
            "minutes_since_productView": None},
    at(9): {"emailsReceived": 2, "productsViewed": 1, "minutes_since_emailSent": 4.0,
            "minutes_since_productView": 0.0},
}


def rows(platform: Platform, name: str = "ref") -> dict[str, dict]:
    return {r["userId"]: r for r in platform.query(f"SELECT * FROM {name}").arrow().to_pylist()}


def test_converters_get_their_first_conversion_row(platform: Platform, story: None) -> None:
    build_reference_training_set(platform, "events", "ref", seed=1)
    one = rows(platform)[person(1)]
    assert (one["eventType"], one["timestamp"], one["subscriptionOccurred"]) == (FORM, at(26), 1)
    assert (one["emailsReceived"], one["emailsOpened"], one["emailsClicked"],
            one["productsViewed"], one["webLinkClicks"]) == (2, 1, 0, 1, 0)
    assert one["minutes_since_emailSent"] == pytest.approx(6.0)
    assert one["minutes_since_emailOpened"] == pytest.approx(16.0)
    assert one["minutes_since_productView"] == pytest.approx(1.0)
    assert one["minutes_since_emailClick"] is None and one["minutes_since_linkClick"] is None


def test_others_get_one_seeded_random_row(platform: Platform, story: None) -> None:
    chosen = set()
    for seed in range(8):
        build_reference_training_set(platform, "events", "ref", seed=seed, replace=True)
        two = rows(platform)[person(2)]
        assert two["subscriptionOccurred"] == 0
        expected = PERSON_2_ROWS[two["timestamp"]]
        assert {k: two[k] for k in expected} == pytest.approx(expected)
        chosen.add(two["timestamp"])
        build_reference_training_set(platform, "events", "ref_again", seed=seed, replace=True)
        assert rows(platform, "ref_again")[person(2)]["timestamp"] == two["timestamp"]
    assert len(chosen) > 1, "eight seeds all drew the same row"


def test_one_row_per_person_with_the_reference_columns(platform: Platform, story: None) -> None:
    built = build_reference_training_set(platform, "events", "ref")
    table = platform.query("SELECT * FROM ref").arrow()
    assert table.column_names == ["userId", "eventType", "timestamp",
                                  *[c.name for c in reference_columns()],
                                  "subscriptionOccurred"]
    assert (built.rows, built.positives, table.num_rows) == (2, 1, 2)
    d = FeatureDefinition.from_dataset(platform, "ref")
    assert d.kind == "reference" and d.label == "subscriptionOccurred"
    assert all(c.events_until == "through_row" for c in d.columns())


def test_on_synthetic_data_converters_are_the_reference_share(synth: Platform) -> None:
    built = build_reference_training_set(synth, "experience_events", "ref", replace=True)
    converters = synth.query("SELECT count(DISTINCT _tenant.userid) FROM experience_events "
                             "WHERE eventType = 'web.formFilledOut'").scalar()
    people = synth.query("SELECT count(DISTINCT _tenant.userid) FROM experience_events").scalar()
    assert (built.rows, built.positives) == (people, converters)
    wrong = synth.query("SELECT count(*) FROM ref WHERE (subscriptionOccurred = 1) <> "
                        "(eventType = 'web.formFilledOut')").scalar()
    assert wrong == 0


def test_bad_input(platform: Platform, story: None) -> None:
    with pytest.raises(FeatureError, match="--seed must be non-negative"):
        build_reference_training_set(platform, "events", "ref", seed=-1)
    with pytest.raises(FeatureError, match="identity field 'nope'"):
        build_reference_training_set(platform, "events", "ref", identity="nope")
    assert "ref" not in {d.name for d in platform.datasets()}
