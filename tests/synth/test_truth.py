"""Ground truth: latent propensity at a cutoff and the clairvoyant probability."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from distillery.synth import truth
from distillery.synth.schemas import TRUTH_EVENTS, TRUTH_USERS
from tests.synth.conftest import WINDOW, Run

# Share one worker with the other users of the session's 100,000-user simulation.
pytestmark = pytest.mark.xdist_group("synth_reference")

T = datetime(2025, 1, 10, tzinfo=UTC)
H = timedelta(days=1)
S = timedelta(seconds=1)


def small_truth() -> tuple[pa.Table, pa.Table]:
    rows = [  # (user, offset from T, eventType, p)
        ("A", -7200 * S, "web.webpagedetails.pageViews", 0.006),
        ("A", -3600 * S, "directMarketing.emailSent", 0.011),
        ("A", 3600 * S, "web.webpagedetails.pageViews", 0.016),
        ("A", 3660 * S, "web.formFilledOut", 0.016),
        ("A", 7200 * S, "commerce.productViews", 0.021),
        ("A", 10800 * S, "directMarketing.emailOpened", 0.041),
        ("C", -1200 * S, "commerce.purchases", 0.3),
        ("C", -600 * S, "web.formFilledOut", 0.3),
        ("D", -30 * S, "web.webpagedetails.pageViews", 0.5),
        ("D", H - 30 * S, "commerce.productViews", 0.2),
        ("D", 2 * H, "advertising.clicks", 0.9),
    ]
    events = pa.Table.from_pylist([
        {"_id": f"e{i}", "userid": u, "timestamp": T + dt, "eventType": kind,
         "subscriptionPropensity": p} for i, (u, dt, kind, p) in enumerate(rows)
    ], schema=TRUTH_EVENTS)
    users = pa.Table.from_pylist([
        {"userid": "A", "user_index": 0, "converted": True, "converted_at": T + 3660 * S},
        {"userid": "B", "user_index": 1, "converted": False, "converted_at": None},
        {"userid": "C", "user_index": 2, "converted": True, "converted_at": T - 600 * S},
        {"userid": "D", "user_index": 3, "converted": False, "converted_at": None},
    ], schema=TRUTH_USERS)
    return events, users


def test_hand_worked_example() -> None:
    events, users = small_truth()
    got = {r["userid"]: r for r in truth.latent_and_clairvoyant(events, users, T, H).to_pylist()}
    assert got["A"]["latent_propensity"] == 0.011
    assert got["A"]["clairvoyant_probability"] == pytest.approx(1 - (1 - 0.016) * (1 - 0.021))
    assert got["A"]["converted_in_window"] and not got["A"]["converted_before_T"]
    assert got["B"] == {"userid": "B", "latent_propensity": 0.001,
                        "clairvoyant_probability": 0.0, "converted_in_window": False,
                        "converted_before_T": False}
    assert got["C"]["converted_before_T"] and got["C"]["clairvoyant_probability"] == 0.0
    assert not got["C"]["converted_in_window"]
    # D's draw at T - 30 s would convert at T + 30 s (in the window); the one at T + H - 30 s
    # would convert after it, and advertising never draws.
    assert got["D"]["latent_propensity"] == 0.5
    assert got["D"]["clairvoyant_probability"] == pytest.approx(0.5)


def test_naive_cutoff_means_utc_and_batches_equal_whole() -> None:
    events, users = small_truth()
    whole = truth.latent_and_clairvoyant(events, users, T, H)
    naive = truth.latent_and_clairvoyant(events, users, T.replace(tzinfo=None), H)
    parts = truth.latent_and_clairvoyant(iter([events.slice(0, 4), events.slice(4)]),
                                         [users.slice(0, 2), users.slice(2)], T, H)
    assert naive.equals(whole) and parts.equals(whole)


def test_unknown_user_in_events_is_an_error() -> None:
    events, users = small_truth()
    with pytest.raises(ValueError, match="not in the truth users"):
        truth.latent_and_clairvoyant(events, users.slice(0, 2), T, H)


def test_auc_matches_pairwise_definition() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 60).astype(float)
    labels = rng.random(60) < 0.3
    pairs = [(s1 > s0) + 0.5 * (s1 == s0)
             for (s1, l1), (s0, l0) in itertools.product(zip(scores, labels, strict=True), repeat=2)
             if l1 and not l0]
    assert truth.auc(scores, labels) == pytest.approx(np.mean(pairs))
    assert np.isnan(truth.auc(scores, np.zeros(60, dtype=bool)))


def test_reference_measurement(reference: Run) -> None:
    """100,000 users, T = 14 days before the window ends, H = 14 days: about 4% convert in the
    window; latent propensity ranks them with AUC about 0.30, the clairvoyant one about 0.97."""
    table = truth.latent_and_clairvoyant(
        (b.truth_events for b in reference.batches), [b.truth_users for b in reference.batches],
        WINDOW.end - timedelta(days=14), timedelta(days=14))
    assert table.num_rows == reference.users
    context = truth.context(table)
    assert context.conversion_rate == pytest.approx(0.04, abs=0.006)
    assert context.latent_auc == pytest.approx(0.30, abs=0.03)
    assert context.clairvoyant_auc == pytest.approx(0.97, abs=0.015)
