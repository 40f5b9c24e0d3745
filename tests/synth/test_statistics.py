"""The simulated population matches the reference: its published aggregates, and every event
type's count as derived by hand from the Poisson and child-replacement rules of WORKFLOW.md."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.compute as pc
import pytest

from tests.synth.conftest import Run

# Share one worker with the other users of the session's 100,000-user simulation.
pytestmark = pytest.mark.xdist_group("synth_reference")

WEEKS = 10
# eventType: (weekly average, delay hours), transcribed from WORKFLOW.md section 1.
WEEKLY = {
    "advertising.clicks": 0.01, "advertising.impressions": 0.1,
    "web.webpagedetails.pageViews": 0.1, "web.webinteraction.linkClicks": 0.05,
    "commerce.productViews": 0.05, "commerce.purchases": 0.01,
    "decisioning.propositionDisplay": 0.05, "decisioning.propositionInteract": 0.01,
    "decisioning.propositionDismiss": 0.01, "directMarketing.emailOpened": 0.2,
    "directMarketing.emailClicked": 0.05, "directMarketing.emailSent": 0.5,
}


def lam(event_type: str) -> float:
    return WEEKLY[event_type] * WEEKS


def some(mean: float) -> float:
    """P(Poisson(mean) >= 1)."""
    return 1 - math.exp(-mean)


def expected_reference() -> dict[str, float]:
    """Expected events per user under the reference's child replacement.

    Only one occurrence per parent type keeps its children, so a child type's count is
    P(parent occurs at least once) x Poisson mean of one occurrence's children. When a user has an
    emailClicked, pageViews is replaced by Poisson(1) children of it; otherwise it is the base
    Poisson(1): either way pageViews ~ Poisson(1).
    """
    p_sent = some(lam("directMarketing.emailSent"))
    p_opened = p_sent * some(lam("directMarketing.emailOpened"))
    p_views = some(lam("web.webpagedetails.pageViews"))
    p_product = p_views * some(lam("commerce.productViews"))
    p_display = p_views * some(lam("decisioning.propositionDisplay"))
    return {
        "advertising.impressions": lam("advertising.impressions"),
        "advertising.clicks": some(lam("advertising.impressions")) * lam("advertising.clicks"),
        "directMarketing.emailSent": lam("directMarketing.emailSent"),
        "directMarketing.emailOpened": p_sent * lam("directMarketing.emailOpened"),
        "directMarketing.emailClicked": p_opened * lam("directMarketing.emailClicked"),
        "web.webpagedetails.pageViews": lam("web.webpagedetails.pageViews"),
        "web.webinteraction.linkClicks": p_views * lam("web.webinteraction.linkClicks"),
        "commerce.productViews": p_views * lam("commerce.productViews"),
        "decisioning.propositionDisplay": p_views * lam("decisioning.propositionDisplay"),
        "commerce.purchases": p_product * lam("commerce.purchases"),
        "decisioning.propositionInteract": p_display * lam("decisioning.propositionInteract"),
        "decisioning.propositionDismiss": p_display * lam("decisioning.propositionDismiss"),
    }


def expected_independent() -> dict[str, float]:
    """Expected events per user when every occurrence keeps its children (means multiply)."""
    sent = lam("directMarketing.emailSent")
    opened = sent * lam("directMarketing.emailOpened")
    clicked = opened * lam("directMarketing.emailClicked")
    views = lam("web.webpagedetails.pageViews") + clicked * lam("web.webpagedetails.pageViews")
    product = views * lam("commerce.productViews")
    display = views * lam("decisioning.propositionDisplay")
    return {
        "advertising.impressions": lam("advertising.impressions"),
        "advertising.clicks": lam("advertising.impressions") * lam("advertising.clicks"),
        "directMarketing.emailSent": sent,
        "directMarketing.emailOpened": opened,
        "directMarketing.emailClicked": clicked,
        "web.webpagedetails.pageViews": views,
        "web.webinteraction.linkClicks": views * lam("web.webinteraction.linkClicks"),
        "commerce.productViews": product,
        "decisioning.propositionDisplay": display,
        "commerce.purchases": product * lam("commerce.purchases"),
        "decisioning.propositionInteract": display * lam("decisioning.propositionInteract"),
        "decisioning.propositionDismiss": display * lam("decisioning.propositionDismiss"),
    }


def per_user_counts(run: Run, event_type: str) -> np.ndarray:
    """Events of `event_type` per user, users without any included."""
    events = run.table("truth_events")
    users = run.table("truth_users")
    mask = pc.equal(events["eventType"], event_type)
    index = pc.index_in(events["userid"].filter(mask), value_set=users["userid"])
    return np.bincount(index.to_numpy(), minlength=run.users)


def assert_count_matches(run: Run, event_type: str, mean: float) -> None:
    counts = per_user_counts(run, event_type)
    # The total is a sum of iid per-user counts: allow 5 standard errors of that sum.
    tolerance = 5 * math.sqrt(run.users * max(counts.var(), mean))
    assert abs(counts.sum() - mean * run.users) < tolerance, (
        f"{event_type}: {counts.sum()} events, expected {mean * run.users:.0f} +- {tolerance:.0f}")


def test_reference_published_aggregates(reference: Run) -> None:
    events = reference.table("events").num_rows
    converters = sum(b.converters for b in reference.batches)
    assert events / reference.users == pytest.approx(10.6, abs=0.1)
    assert converters / reference.users == pytest.approx(0.15, abs=0.01)


@pytest.mark.parametrize("event_type", sorted(WEEKLY))
def test_reference_count_per_type(reference: Run, event_type: str) -> None:
    assert_count_matches(reference, event_type, expected_reference()[event_type])


@pytest.mark.parametrize("event_type", sorted(WEEKLY))
def test_independent_count_per_type(independent: Run, event_type: str) -> None:
    assert_count_matches(independent, event_type, expected_independent()[event_type])


def test_independent_has_more_events_and_converters(reference: Run, independent: Run) -> None:
    ref = reference.table("events").num_rows / reference.users
    ind = independent.table("events").num_rows / independent.users
    assert ind > 3 * ref
    ref_conv = sum(b.converters for b in reference.batches) / reference.users
    ind_conv = sum(b.converters for b in independent.batches) / independent.users
    assert ind_conv > ref_conv


def test_reference_children_of_one_occurrence_only(reference: Run) -> None:
    """Under replacement only one impression keeps its clicks, so a user's clicks are
    Poisson(0.1) however many impressions they had (independent children would give 0.1 each)."""
    clicks = per_user_counts(reference, "advertising.clicks")
    impressions = per_user_counts(reference, "advertising.impressions")
    assert not clicks[impressions == 0].any()
    many = impressions >= 3
    assert clicks[many].mean() == pytest.approx(lam("advertising.clicks"), abs=0.02)


def test_base_events_uniform_in_window(reference: Run) -> None:
    from tests.synth.conftest import WINDOW

    events = reference.table("truth_events")
    mask = pc.equal(events["eventType"], "directMarketing.emailSent")
    ts = events["timestamp"].filter(mask)
    lo, hi = pc.min(ts).as_py(), pc.max(ts).as_py()
    assert WINDOW.start <= lo < hi <= WINDOW.end
    # Uniform: each of the 10 weeks holds about a tenth of the sends.
    start_us = WINDOW.start_us
    week = (ts.cast("int64").to_numpy() - start_us) // (7 * 86_400_000_000)
    shares = np.bincount(week, minlength=10) / len(week)
    assert np.allclose(shares, 0.1, atol=0.005)
