"""Monitoring: past scores joined with later conversions, per day; drift by PSI; plots."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from distillery import Platform
from distillery.scoring import MonitorError, ScoreRun, monitor, score
from distillery.scoring.drift import calibration_error, psi, quality
from tests.scoring.conftest import AS_OF, World


def outcome_auc(platform: Platform, run: ScoreRun, t: datetime, horizon: timedelta) -> float:
    """AUC of one run's scores against conversions in (t, t + horizon], computed here
    independently with SQL and scikit-learn."""
    scores = platform.query("SELECT _tenant.userid AS u, _tenant.propensity AS p FROM "
                            "propensity_scores WHERE _tenant.scoredAt = :at",
                            {"at": datetime.fromisoformat(run.scored_at)}).arrow().to_pylist()
    conv = platform.query("SELECT _tenant.userid AS u, timestamp AS ts FROM experience_events "
                          "WHERE eventType = 'web.formFilledOut'").arrow().to_pylist()
    before = {c["u"] for c in conv if c["ts"] <= t}
    within = {c["u"] for c in conv if t < c["ts"] <= t + horizon}
    rows = [s for s in scores if s["u"] not in before]
    assert len(scores) == run.rows
    return roc_auc_score([int(r["u"] in within) for r in rows], [r["p"] for r in rows])


def test_quality_and_drift_per_day(world: World, world_platform: Platform,
                                   tmp_path: Path) -> None:
    days = [AS_OF - timedelta(days=35), AS_OF - timedelta(days=28), AS_OF - timedelta(days=7)]
    runs = [score(world_platform, world.model(), as_of=d).run for d in days]
    report = monitor(world_platform, "propensity", plots=tmp_path / "plots")
    assert [d.day for d in report.days] == [d.date().isoformat() for d in days]
    assert report.outcome == ["web.formFilledOut"] and report.horizon_days == 14
    assert [d.pending for d in report.days] == [False, False, True]
    for day, run, t in zip(report.days[:2], runs, days, strict=False):
        assert day.metrics["auc"] == pytest.approx(
            outcome_auc(world_platform, run, t, timedelta(days=14)), abs=1e-9)
        assert day.evaluated <= day.scored == run.rows
    assert report.days[2].metrics == {}
    # Without a registered model's training set, the first run is the baseline.
    assert report.baseline == f"first scoring run {runs[0].id}"
    assert report.days[0].score_psi == pytest.approx(0.0, abs=1e-12)
    assert set(report.days[1].feature_psi) == set(world.booster.features)
    for path in report.plots:
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {Path(p).name for p in report.plots} == {"quality.png", "calibration.png",
                                                    "drift.png"}


def test_monitoring_needs_scores(world_platform: Platform) -> None:
    with pytest.raises(MonitorError, match="no scoring runs"):
        monitor(world_platform, "propensity")
    with pytest.raises(MonitorError, match="threshold"):
        monitor(world_platform, "propensity", threshold=1.5)


def test_psi_is_zero_for_the_same_population_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 20_000)
    assert psi(base, base) == pytest.approx(0.0, abs=1e-12)
    assert psi(base, rng.normal(0, 1, 20_000)) < 0.01
    assert psi(base, rng.normal(1, 1, 20_000)) > 0.25
    counts = rng.poisson(0.2, 20_000)  # few distinct values: compared value by value
    assert psi(counts, counts + (rng.random(20_000) < 0.5)) > 0.25


def test_quality_measures() -> None:
    p = np.array([0.1, 0.2, 0.3, 0.8])
    y = np.array([0, 0, 1, 1])
    q = quality(p, y, threshold=0.25)
    assert q["auc"] == 1.0 and q["precision"] == 1.0 and q["recall"] == 1.0
    assert q["positives"] == 2 and q["accuracy"] == 1.0
    assert calibration_error(np.array([0.5, 0.5]), np.array([0, 1]), bins=1) == 0.0
    assert quality(p, np.zeros(4, dtype=int), 0.2)["auc"] is None  # one class: no AUC
