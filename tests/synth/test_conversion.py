"""The conversion process: the propensity walk, the Bernoulli draws and formFilledOut."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from distillery.synth import truth
from tests.synth.conftest import WINDOW, Run

# Share one worker with the other users of the session's 100,000-user simulation.
pytestmark = pytest.mark.xdist_group("synth_reference")

FORM = "web.formFilledOut"
# eventType: propensity delta, transcribed from WORKFLOW.md section 1.
DELTA = {
    "advertising.clicks": 0.002, "advertising.impressions": 0.001,
    "web.webpagedetails.pageViews": 0.005, "web.webinteraction.linkClicks": 0.005,
    "commerce.productViews": 0.005, "commerce.purchases": 0.1,
    "decisioning.propositionDisplay": 0.005, "decisioning.propositionInteract": 0.1,
    "decisioning.propositionDismiss": -0.2, "directMarketing.emailOpened": 0.02,
    "directMarketing.emailClicked": 0.1, "directMarketing.emailSent": 0.005, FORM: 0.0,
}


def qualifies(event_type: str) -> bool:
    return not event_type.startswith(("directMarketing.", "advertising.")) and event_type != FORM


def test_propensity_trajectory_recomputed(reference: Run) -> None:
    """p after each event, recomputed per user in time order with the reference's loop."""
    # The first 30,000 rows: about 2,800 users (a cut user keeps a valid prefix of its walk).
    events = reference.batches[0].truth_events.slice(0, 30_000).to_pandas()
    events = events.sort_values(["userid", "timestamp"], kind="stable")
    for _, rows in events.groupby("userid", sort=False):
        p = 0.001
        for event_type, recorded in zip(rows["eventType"], rows["subscriptionPropensity"],
                                        strict=True):
            p = min(max(p + DELTA[event_type], 0.0), 1.0)
            assert recorded == p


def test_events_sorted_by_user_then_time(reference: Run) -> None:
    for batch in reference.batches[:2]:
        ecid = batch.events["_tenant"].combine_chunks().field("userid")
        ts = batch.events["timestamp"].cast("int64").to_numpy()
        same_user = pc.equal(ecid[1:], ecid[:-1]).to_numpy(zero_copy_only=False)
        assert (np.diff(ts)[same_user] >= 0).all()


def test_forms_follow_a_qualifying_event_by_60_seconds(reference: Run) -> None:
    events = pa.concat_tables([b.truth_events for b in reference.batches[:3]])
    kinds = events["eventType"].to_numpy(zero_copy_only=False)
    forms = events.filter(pa.array(kinds == FORM))
    assert forms.num_rows > 1000
    triggers = pa.table({
        "userid": forms["userid"],
        "timestamp": pc.subtract(forms["timestamp"], pa.scalar(timedelta(seconds=60))),
    })
    candidates = events.filter(pa.array([qualifies(k) for k in kinds]))
    matched = triggers.join(candidates.select(["userid", "timestamp", "eventType"]),
                            ["userid", "timestamp"], join_type="left outer")
    assert matched.num_rows == forms.num_rows
    assert matched["eventType"].null_count == 0


def test_at_most_one_conversion_and_truth_agrees(reference: Run) -> None:
    events = reference.table("truth_events")
    users = reference.table("truth_users").to_pandas()
    forms = events.filter(pc.equal(events["eventType"], FORM)).to_pandas()
    assert forms["userid"].is_unique
    converted = users[users["converted"]].set_index("userid")["converted_at"]
    assert set(converted.index) == set(forms["userid"])
    assert (forms.set_index("userid")["timestamp"] == converted.loc[forms["userid"]]).all()
    assert users.loc[~users["converted"], "converted_at"].isna().all()


def test_no_conversion_without_qualifying_event(reference: Run) -> None:
    events = reference.table("truth_events")
    qualifying = pa.array([t for t in DELTA if qualifies(t)])
    active = events.filter(pc.is_in(events["eventType"], value_set=qualifying))["userid"]
    users = reference.table("truth_users")
    converters = users.filter(users["converted"])["userid"]
    assert pc.all(pc.is_in(converters, value_set=pc.unique(active))).as_py()


def test_conversion_draws_are_bernoulli_of_p(reference: Run) -> None:
    """Given the events, P(user converts) = 1 - prod(1 - p) over its qualifying events (draws
    stop at the first success, which does not change that probability). The number of converters
    must match the sum of those probabilities within the Poisson-binomial's spread."""
    events = reference.table("truth_events")
    users = reference.table("truth_users")
    whole = truth.latent_and_clairvoyant(events, users, WINDOW.start - timedelta(days=1),
                                         timedelta(days=400))
    prob = whole["clairvoyant_probability"].to_numpy()
    observed = pc.sum(users["converted"]).as_py()
    spread = math.sqrt(float((prob * (1 - prob)).sum()))
    assert abs(observed - prob.sum()) < 5 * spread
    assert whole["converted_in_window"].equals(users["converted"])


def test_propensity_is_clipped_to_unit_interval(reference: Run) -> None:
    p = reference.table("truth_events")["subscriptionPropensity"]
    assert pc.min(p).as_py() >= 0.0
    assert pc.max(p).as_py() <= 1.0
    # A dismiss of -0.2 early in a history hits the floor: clipping is exercised.
    assert pc.any(pc.equal(p, 0.0)).as_py()


def test_form_rows_carry_running_propensity(reference: Run) -> None:
    batch = reference.batches[0].truth_events
    kinds = batch["eventType"].to_numpy(zero_copy_only=False)
    p = batch["subscriptionPropensity"].to_numpy()
    forms = np.flatnonzero(kinds == FORM)
    assert (p[forms] == p[forms - 1]).all()
    assert isinstance(batch, pa.Table)
