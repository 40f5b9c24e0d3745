"""The point-in-time training set: features strictly before the cutoff, labels in
(T, T + H], populations, the stored definition, and bad input."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest

from distillery import Platform
from distillery.features import (
    FeatureDefinition,
    FeatureError,
    build_training_set,
    compute_features,
)
from tests.features.conftest import Ingest, T, ev, person

PV, BUY, FORM = "web.webpagedetails.pageViews", "commerce.purchases", "web.formFilledOut"
MINUTE, DAY = timedelta(minutes=1), timedelta(days=1)


@pytest.fixture
def story(ingest: Ingest) -> None:
    """Six people whose features and labels at T (horizon 14 days) are worked out by hand."""
    ingest([
        ev(1, BUY, T - 30 * DAY, 10.0), ev(1, BUY, T - 7 * DAY, 2.5), ev(1, PV, T - MINUTE),
        ev(1, PV, T), ev(1, PV, T + timedelta(hours=1)), ev(1, FORM, T + 14 * DAY),
        ev(2, PV, T - 7 * DAY - timedelta(microseconds=1)),
        ev(2, FORM, T + 14 * DAY + timedelta(seconds=1)),
        ev(3, FORM, T - DAY), ev(3, PV, T - 2 * DAY),
        ev(4, PV, T - 3 * DAY), ev(4, FORM, T),
        ev(5, PV, T + DAY), ev(5, FORM, T + 2 * DAY),
        ev(6, PV, T - 10 * DAY), ev(6, FORM, T + DAY),
    ])


def rows_by_person(platform: Platform, name: str) -> dict[str, dict]:
    table = platform.query(f"SELECT * FROM {name}").arrow()
    return {r["userid"]: r for r in table.to_pylist()}


def test_features_use_only_events_strictly_before_the_cutoff(platform: Platform,
                                                               story: None) -> None:
    build_training_set(platform, "events", "training", [T], horizon="14d")
    one = rows_by_person(platform, "training")[person(1)]
    assert (one["count_7d__commerce_purchases"], one["count_28d__commerce_purchases"],
            one["count_all__commerce_purchases"]) == (1, 1, 2)
    # The page views at T and after T are not counted; the one a minute before is.
    assert one["count_all__web_webpagedetails_pageViews"] == 1
    assert one["recency_min__web_webpagedetails_pageViews"] == pytest.approx(1.0)
    assert one["recency_min__commerce_purchases"] == pytest.approx(7 * 24 * 60)
    assert (one["count_7d"], one["count_all"], one["recency_min"]) == (2, 3, pytest.approx(1.0))
    assert one["sum_7d__commerce_order_priceTotal"] == 2.5
    assert one["sum_all__commerce_order_priceTotal"] == 12.5
    assert one["tenure_days"] == pytest.approx(30.0)


def test_window_starts_are_inclusive_to_the_microsecond(platform: Platform, story: None) -> None:
    build_training_set(platform, "events", "training", [T], horizon="14d")
    two = rows_by_person(platform, "training")[person(2)]
    assert (two["count_7d__web_webpagedetails_pageViews"],
            two["count_14d__web_webpagedetails_pageViews"]) == (0, 1)
    assert two["recency_min__web_webpagedetails_pageViews"] == pytest.approx(
        (7 * DAY + timedelta(microseconds=1)) / MINUTE, rel=1e-12)


def test_never_seen_recency_is_null_and_counts_are_zero(platform: Platform,
                                                        story: None) -> None:
    build_training_set(platform, "events", "training", [T], horizon="14d")
    two = rows_by_person(platform, "training")[person(2)]
    assert two["recency_min__commerce_purchases"] is None
    assert two["count_all__commerce_purchases"] == 0
    assert two["sum_all__commerce_order_priceTotal"] == 0.0


def test_label_is_a_conversion_in_the_half_open_horizon(platform: Platform,
                                                       story: None) -> None:
    built = build_training_set(platform, "events", "training", [T], horizon="14d")
    rows = rows_by_person(platform, "training")
    # Not yet converted at T: 1 (converts exactly at T + 14d), 2 (one second late), 6.
    assert {k: r["label"] for k, r in rows.items()} == {person(1): 1, person(2): 0,
                                                         person(6): 1}
    assert (built.rows, built.positives) == (3, 2)
    assert all(r["cutoff"] == T for r in rows.values())


def test_population_all_keeps_people_who_converted_before(platform: Platform,
                                                          story: None) -> None:
    build_training_set(platform, "events", "training", [T], horizon="14d", population="all")
    rows = rows_by_person(platform, "training")
    # Person 5 has no event before T; 3 and 4 converted at or before T and convert no more.
    assert sorted(rows) == [person(n) for n in (1, 2, 3, 4, 6)]
    assert (rows[person(3)]["label"], rows[person(4)]["label"]) == (0, 0)
    assert rows[person(3)]["count_all__web_formFilledOut"] == 1


def test_several_cutoffs_enlarge_the_set(platform: Platform, story: None) -> None:
    later = T + 7 * DAY
    built = build_training_set(platform, "events", "training", [T, later], horizon="7d")
    table = platform.query("SELECT userid, cutoff, label FROM training").arrow()
    at_later = {r["userid"]: r["label"] for r in table.to_pylist() if r["cutoff"] == later}
    # By T + 7d, 6 (T + 1d) and 5 (T + 2d) have converted: only 1 and 2 remain.
    assert at_later == {person(1): 1, person(2): 0}
    assert built.per_cutoff[later.isoformat()] == {"rows": 2, "positives": 1}
    assert built.rows == table.num_rows == 5


def test_conversion_by_event_type_or_sql_condition(platform: Platform, story: None) -> None:
    by_type = build_training_set(platform, "events", "a", [T], horizon="14d",
                                 conversion_types=[FORM])
    by_sql = build_training_set(platform, "events", "b", [T], horizon="14d",
                                conversion="eventType LIKE 'web.form%'")
    assert (by_type.rows, by_type.positives) == (by_sql.rows, by_sql.positives) == (3, 2)
    assert by_sql.definition.conversion.matched_event_types == (FORM,)


def test_definition_is_stored_and_scoring_computes_the_same_features(
        platform: Platform, story: None) -> None:
    built = build_training_set(platform, "events", "training", [T], horizon="14d")
    d = FeatureDefinition.from_dataset(platform, "training")
    assert d == built.definition
    assert d.event_types == (BUY, FORM, PV)
    assert d.snapshots == {"events": 1}
    training = platform.query("SELECT * FROM training").arrow().drop_columns(["label"])
    scored = compute_features(platform, d, T, population="not-converted").read_all()
    assert scored.sort_by("userid").equals(training.sort_by("userid"))


def test_scoring_keeps_the_definitions_columns_when_types_change(
        platform: Platform, story: None, ingest: Ingest) -> None:
    build_training_set(platform, "events", "training", [T], horizon="14d")
    d = FeatureDefinition.from_dataset(platform, "training")
    ingest([ev(7, "brand.newType", T + 20 * DAY)])
    scored = compute_features(platform, d, T + 21 * DAY).read_all()
    assert scored.column_names == ["userid", "cutoff", *d.feature_names()]
    seven = {r["userid"]: r for r in scored.to_pylist()}[person(7)]
    # A type unknown to the definition counts in the totals only.
    assert (seven["count_all"], seven["count_all__web_formFilledOut"]) == (1, 0)


def test_matches_an_independent_pandas_computation(synth: Platform) -> None:
    from tests.features import oracle

    cutoff = T + timedelta(hours=5, minutes=7)
    build_training_set(synth, "experience_events", "pit", [cutoff], horizon="14d",
                       population="all", replace=True)
    d = FeatureDefinition.from_dataset(synth, "pit")
    got = synth.query("SELECT * FROM pit").df().set_index("userid").sort_index()
    events = synth.query("SELECT _tenant.userid AS person, eventType, timestamp "
                         "FROM experience_events").df()
    want = oracle.features(events, list(d.event_types), cutoff)
    assert list(got.index) == list(want.index)
    for column in want.columns:
        if column.startswith("count_"):
            assert (got[column].to_numpy() == want[column].to_numpy()).all(), column
        else:
            assert got[column].to_numpy() == pytest.approx(want[column].to_numpy(),
                                                           rel=1e-12, nan_ok=True), column


def test_profile_attributes_are_joined_as_of_the_cutoff(synth: Platform) -> None:
    with pytest.raises(FeatureError, match="no snapshot at or before the cutoff"):
        build_training_set(synth, "experience_events", "with_profiles", [T],
                           profiles="profiles", profile_attributes=["loyalty.tier"])
    built = build_training_set(synth, "experience_events", "with_profiles", [T],
                               profiles="profiles", profiles_as_of="latest",
                               profile_attributes=["loyalty.tier", "loyalty.points",
                                                   "person.birthDate"], replace=True)
    table = synth.query("SELECT * FROM with_profiles").arrow()
    assert {"profile__loyalty_tier", "profile__loyalty_points",
            "profile__person_birthDate__days"} <= set(table.column_names)
    profiles = {r["id"]: r for r in synth.query(
        "SELECT _tenant.userid AS id, loyalty.tier AS tier, person.birthDate AS born "
        "FROM profiles").arrow().to_pylist()}
    row = table.slice(0, 1).to_pylist()[0]
    born = profiles[row["userid"]]["born"]
    assert row["profile__loyalty_tier"] == profiles[row["userid"]]["tier"]
    assert row["profile__person_birthDate__days"] == pytest.approx(
        (T.date() - born).days)
    assert built.definition.profiles is not None
    assert built.definition.profiles.as_of == "latest"


def test_sql_is_one_tree_compiled_for_each_dialect() -> None:
    from sqlglot import exp

    from distillery.features import pit
    from distillery.features.definition import Conversion
    from distillery.features.sqltree import Params

    d = FeatureDefinition(events="e", events_id="x", identity="_tenant.userid",
                          event_types=(PV,), measures=("commerce.order.priceTotal",),
                          conversion=Conversion(event_types=(FORM,)))
    params = Params()
    tree = pit.long_form(pit.raw_source(d, exp.Table(this=exp.to_identifier("ev")), T, params),
                         d, T, params)
    spark, duck = tree.sql("spark"), tree.sql("duckdb")
    assert "UNIX_MICROS(" in spark and "EPOCH_US(" in duck
    assert ":cutoff_0" in spark and "$cutoff_0" in duck
    # Values are bound, never pasted in: the cutoff's text appears in no dialect's SQL.
    assert "2025" not in spark and "2025" not in duck


# Bad input: a clear error naming the problem, and nothing written.

@pytest.mark.parametrize(("options", "message"), [
    ({"identity": "_tenant.nope"}, "identity field '_tenant.nope'"),
    ({"measures": ["eventType"]}, r"measure 'eventType'.*must be numeric"),
    ({"measures": ["commerce.order.nope"]}, "measure field 'commerce.order.nope'"),
    ({"population": "some"}, "--population must be one of"),
    ({"horizon": "14 days"}, "horizon '14 days' is not a duration"),
    ({"horizon": "0d"}, "horizon must be positive"),
    ({"windows": [7, 0]}, "--window values must be positive"),
    ({"conversion": "eventType = (SELECT 1)"}, "contains a query"),
    ({"conversion": "nope = 1"}, "names 'nope', which is not a field of dataset 'events'"),
    ({"conversion": "eventType = 'x'", "conversion_types": [FORM]}, "not both"),
    ({"cutoffs": []}, "at least one --cutoff"),
    ({"cutoffs": ["yesterday"]}, "--cutoff 'yesterday' is not an ISO date"),
    ({"cutoffs": ["2020-01-01"]}, "no events before the last cutoff"),
])
def test_bad_options_name_the_problem_and_write_nothing(platform: Platform, story: None,
                                                        options: dict, message: str) -> None:
    cutoffs = options.pop("cutoffs", [T])
    before = {d.name for d in platform.datasets()}
    with pytest.raises(FeatureError, match=message):
        build_training_set(platform, "events", "training", cutoffs, **options)
    assert {d.name for d in platform.datasets()} == before


def test_an_existing_output_is_kept_unless_replaced(platform: Platform, story: None) -> None:
    build_training_set(platform, "events", "training", [T])
    with pytest.raises(FeatureError, match=r"exists already.*--replace"):
        build_training_set(platform, "events", "training", [T])
    again = build_training_set(platform, "events", "training", [T], replace=True)
    assert platform.dataset("training").version == 2 and again.rows == 3
    with pytest.raises(FeatureError, match="other columns"):
        build_training_set(platform, "events", "training", [T], windows=[3], replace=True)


def test_replace_refuses_datasets_that_are_not_training_sets(platform: Platform,
                                                            story: None) -> None:
    platform.lake.write("notes", pa.table({"a": [1]}))
    with pytest.raises(FeatureError, match="is not a training set"):
        build_training_set(platform, "events", "notes", [T], replace=True)
    with pytest.raises(FeatureError, match="is the events dataset itself"):
        build_training_set(platform, "events", "events", [T], replace=True)
    assert platform.query("SELECT count(*) FROM notes").scalar() == 1
    assert platform.query("SELECT count(*) FROM events").scalar() == 16


def test_a_failed_computation_leaves_no_empty_dataset(platform: Platform, story: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from distillery.features import training

    def broken(*args: object, **kwargs: object) -> None:
        raise FeatureError("the engine broke")

    monkeypatch.setattr(training, "features_table", broken)
    with pytest.raises(FeatureError, match="the engine broke"):
        build_training_set(platform, "events", "training", [T])
    assert "training" not in {d.name for d in platform.datasets()}


def test_unknown_events_dataset(platform: Platform) -> None:
    from distillery.errors import NotFoundError

    with pytest.raises(NotFoundError, match="dataset 'nope' does not exist"):
        build_training_set(platform, "nope", "training", [T])


def test_any_events_dataset_bring_your_own(platform: Platform, tmp_path) -> None:
    from distillery.lake import byo

    path = tmp_path / "shop.csv"
    path.write_text(
        "customer,when,what,amount\n"
        "a@example.com,2025-01-20T10:00:00Z,purchase,19.5\n"
        "a@example.com,2025-01-30T10:00:00Z,view,\n"
        "a@example.com,2025-02-03T10:00:00Z,purchase,5\n"
        "b@example.com,2025-01-31T09:30:00Z,purchase,2.25\n"
        "c@example.com,2025-01-02T00:00:00Z,view,\n")
    plan = byo.plan(path, "shop", "event", identity={"customer": "Email"}, timestamp="when",
                    event_type="what")
    platform.create_dataset("shop", plan.schema)
    platform.ingest("shop", path, mapping=plan.mapping)
    built = build_training_set(platform, "shop", "shop_training", [T], horizon="7d",
                               conversion_types=["purchase"], population="all",
                               measures=["amount"])
    assert built.definition.identity == "customer"
    rows = {r["userid"]: r for r in platform.query("SELECT * FROM shop_training").arrow()
            .to_pylist()}
    assert rows["a@example.com"]["sum_all__amount"] == 19.5
    assert rows["b@example.com"]["sum_7d__amount"] == 2.25
    assert {k: r["label"] for k, r in rows.items()} == {
        "a@example.com": 1, "b@example.com": 0, "c@example.com": 0}
    assert platform.dataset("shop_training").schema.primary_identity.namespace == "Email"


def test_ground_truth_is_not_featurized(platform: Platform) -> None:
    platform.lake.write("truth", pa.table({"userid": [person(1)], "eventType": ["x"]}),
                        tags={"ground_truth": True, "featurize": False})
    with pytest.raises(FeatureError, match="marked not to be featurized"):
        build_training_set(platform, "truth", "training", [T], identity="userid")


def test_an_empty_events_dataset_is_a_clear_error(platform: Platform, events: object) -> None:
    with pytest.raises(FeatureError, match="has no events before the last cutoff"):
        build_training_set(platform, "events", "training", [T])


def test_profile_attributes_come_from_the_snapshot_at_the_cutoff(platform: Platform) -> None:
    import time
    from datetime import UTC, datetime

    from distillery.features import profiles_asof
    from distillery.lake import xdm

    platform.create_dataset("people", xdm.profile_schema())
    first = platform.ingest("people", [{"_tenant": {"userid": person(1)},
                                        "loyalty": {"points": 10.0}}])
    time.sleep(0.05)
    between = datetime.now(UTC)
    time.sleep(0.05)
    platform.ingest("people", [{"_tenant": {"userid": person(1)}, "loyalty": {"points": 20.0}}],
                    replaces=first.id)
    source = profiles_asof.resolve(platform, "people", ["loyalty.points"])
    people = pa.array([person(1), person(2)])
    then = profiles_asof.attributes_for(platform, source, between, people)
    now = profiles_asof.attributes_for(platform, source, datetime.now(UTC), people)
    assert then["profile__loyalty_points"].to_pylist() == [10.0, None]
    assert now["profile__loyalty_points"].to_pylist() == [20.0, None]
    with pytest.raises(FeatureError, match=r"profile attribute field 'loyalty' .* is a struct"):
        profiles_asof.resolve(platform, "people", ["loyalty"])
