"""Training sets carry the data-usage labels of the event and profile fields they were computed
from: a measure's label reaches its sum columns, a profile attribute's its column, fields that
choose every row (identity, time, event type, the conversion) and dataset labels label the
whole set, and fields the set never read leave no trace."""

from __future__ import annotations

from datetime import timedelta

import pytest

from distillery import Platform
from distillery.features import build_training_set
from distillery.features.reference import build_reference_training_set
from distillery.lake import labels, xdm
from tests.features.conftest import Ingest, T, ev, person

PV, BUY, FORM = "web.webpagedetails.pageViews", "commerce.purchases", "web.formFilledOut"
PRICE = "commerce.order.priceTotal"
DAY = timedelta(days=1)


@pytest.fixture
def story(ingest: Ingest) -> None:
    ingest([ev(1, BUY, T - 3 * DAY, 10.0, "a"), ev(1, PV, T - DAY, event_id="b"),
            ev(1, FORM, T + DAY, event_id="c"), ev(2, PV, T - 2 * DAY, event_id="d"),
            ev(3, BUY, T - 5 * DAY, 4.0, "e"), ev(3, FORM, T + 20 * DAY, event_id="f")])


def found(platform: Platform, name: str) -> dict[str, set[str]]:
    return {k: set(v) for k, v in labels.labels_for(platform, name).items()}


def test_a_measure_label_reaches_its_sum_columns_only(platform: Platform, story: None) -> None:
    labels.add_labels(platform, "events", ["C2"], field=PRICE)
    labels.add_labels(platform, "events", ["C5"], field="web.webPageDetails.name")  # unread
    built = build_training_set(platform, "events", "training", [T], horizon="14d")
    sums = {c.name for c in built.definition.columns() if c.measure == PRICE}
    assert sums  # the set sums the order value
    assert found(platform, "training") == {name: {"C2"} for name in sums}


def test_fields_that_choose_every_row_label_the_whole_set(platform: Platform,
                                                           story: None) -> None:
    labels.add_labels(platform, "events", ["C4"], field="_tenant.userid")
    labels.add_labels(platform, "events", ["C9"])
    build_training_set(platform, "events", "training", [T], horizon="14d")
    assert found(platform, "training") == {"*": {"C4", "C9"}, "userid": {"C4"}}


def test_the_conversion_labels_the_label_or_the_population(platform: Platform,
                                                           story: None) -> None:
    labels.add_labels(platform, "events", ["C2"], field=PRICE)
    condition = f"eventType = '{FORM}' OR {PRICE} > 100"
    build_training_set(platform, "events", "everyone", [T], horizon="14d", population="all",
                       conversion=condition, measures=[])
    assert found(platform, "everyone") == {"label": {"C2"}}
    # Leaving out who converted already is a filter on the conversion: it shapes every row.
    build_training_set(platform, "events", "unconverted", [T], horizon="14d",
                       conversion=condition, measures=[])
    assert found(platform, "unconverted") == {"*": {"C2"}, "label": {"C2"}}


def test_a_profile_attribute_label_reaches_its_column(platform: Platform, story: None) -> None:
    platform.create_dataset("people", xdm.profile_schema())
    platform.ingest("people", [{"_tenant": {"userid": person(1)},
                                "loyalty": {"points": 10.0, "tier": "gold"}}])
    labels.add_labels(platform, "people", ["C3"], field="loyalty.points")
    labels.add_labels(platform, "people", ["C6"], field="loyalty.tier")  # not used
    build_training_set(platform, "events", "training", [T], horizon="14d", measures=[],
                       profiles="people", profile_attributes=["loyalty.points"],
                       profiles_as_of="latest")
    assert found(platform, "training") == {"profile__loyalty_points": {"C3"}}
    with platform.catalog.connect() as con:
        origin = con.execute("SELECT origin FROM field_labels WHERE path = "
                             "'profile__loyalty_points'").fetchone()[0]
    assert origin == "propagated from events, people"


def test_the_reference_set_carries_the_fields_it_copies_and_draws_by(platform: Platform,
                                                                     story: None) -> None:
    labels.add_labels(platform, "events", ["C3"], field="eventType")
    labels.add_labels(platform, "events", ["C2"], field=PRICE)  # the reference set sums nothing
    build_reference_training_set(platform, "events", "reference")
    assert found(platform, "reference") == {"*": {"C3"}, "eventType": {"C3"}}
    labels.add_labels(platform, "events", ["C8"], field="_id")  # the seeded draw reads it
    build_reference_training_set(platform, "events", "reference", replace=True)
    assert found(platform, "reference") == {"*": {"C3", "C8"}, "eventType": {"C3"}}
