"""The leakage check: the reference-compatible set is flagged, the default set passes, and
each kind of leak is found in data built to have it."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import roc_auc_score

from distillery import Platform
from distillery.features import FeatureError, build_training_set
from distillery.features.auc import auc
from distillery.features.leakage import check_leakage
from distillery.features.reference import build_reference_training_set, reference_columns
from tests.features.conftest import T


def test_reference_compatible_set_is_flagged_and_default_set_passes(synth: Platform) -> None:
    build_reference_training_set(synth, "experience_events", "ref", replace=True)
    reference = check_leakage(synth, "ref")
    assert not reference.passed
    timing = {f.column for f in reference.findings if f.check == "timing"}
    assert timing == {c.name for c in reference_columns()} and len(timing) == 14
    build_training_set(synth, "experience_events", "pit", [T], replace=True)
    default = check_leakage(synth, "pit")
    assert default.passed and default.findings == []
    assert default.aucs and all(a is None or max(a, 1 - a) < 0.95 for a in default.aucs.values())


def test_a_conversion_type_among_the_features_is_a_label_leak(synth: Platform) -> None:
    build_reference_training_set(synth, "experience_events", "ref_views",
                                 conversion_type="commerce.productViews", replace=True)
    found = {(f.check, f.column) for f in check_leakage(synth, "ref_views").findings}
    assert ("label", "productsViewed") in found
    assert ("label", "emailsReceived") not in found


@pytest.fixture
def planted(platform: Platform) -> str:
    """A training set without a definition, with one column per kind of leak."""
    rng = np.random.default_rng(3)
    n = 4_000
    y = (rng.random(n) < 0.3).astype(np.int64)
    noise = rng.normal(size=n)
    never = np.where(y == 1, np.nan, rng.random(n) * 100)  # NULL exactly for converters
    platform.lake.write("planted", pa.table({
        "userid": [f"{i:038d}" for i in range(n)],
        "honest": rng.normal(size=n) + 0.3 * y,
        "copy": y,
        "function": y * 3 + 1,
        "nearly": y * 4.0 + noise,
        "recency_never": pa.array(never, mask=np.isnan(never)),
        "category": np.where(y == 1, "yes", "no"),
        "label": y,
    }))
    return "planted"


def test_planted_leaks_are_found(platform: Platform, planted: str) -> None:
    report = check_leakage(platform, planted)
    found = {(f.check, f.column) for f in report.findings}
    assert {("label", "copy"), ("label", "function"), ("auc", "copy"), ("auc", "nearly"),
            ("auc", "recency_never"), ("auc", "category")} <= found
    assert not any(column == "honest" for _, column in found)
    assert not report.passed
    assert any("no feature definition" in note for note in report.notes)
    strict = check_leakage(platform, planted, threshold=0.999)
    assert ("auc", "nearly") not in {(f.check, f.column) for f in strict.findings}


def test_profiles_read_after_the_cutoff_warn_without_failing(synth: Platform) -> None:
    build_training_set(synth, "experience_events", "with_profiles", [T], profiles="profiles",
                       profiles_as_of="latest", profile_attributes=["loyalty.tier"],
                       replace=True)
    report = check_leakage(synth, "with_profiles")
    assert report.passed
    assert [(f.check, f.column, f.severity) for f in report.findings] == [
        ("profile_snapshot", "profile__loyalty_tier", "warning")]


def test_bad_input(platform: Platform, planted: str) -> None:
    with pytest.raises(FeatureError, match="no label column 'target'"):
        check_leakage(platform, planted, label="target")
    with pytest.raises(FeatureError, match=r"label column 'function'.*0 or 1"):
        check_leakage(platform, planted, label="function")
    with pytest.raises(FeatureError, match="--threshold must be in"):
        check_leakage(platform, planted, threshold=0.4)


def test_auc_agrees_with_scikit_learn() -> None:
    rng = np.random.default_rng(9)
    y = (rng.random(5_000) < 0.2).astype(np.int64)
    x = rng.normal(size=5_000) + y * 0.8
    x[:50] = np.round(x[:50])  # some ties
    expected = roc_auc_score(y, x)
    assert auc(pa.array(x), y) == pytest.approx(expected, abs=1e-12)
    assert auc(pa.array(-x), y) == pytest.approx(1 - expected, abs=1e-12)
    # NULLs are ranked first and last; the stronger ordering is reported.
    missing = rng.random(5_000) < 0.1
    low = roc_auc_score(y, np.where(missing, x.min() - 1, x))
    high = roc_auc_score(y, np.where(missing, x.max() + 1, x))
    strongest = max(low, high, key=lambda a: abs(a - 0.5))
    assert auc(pa.array(x, mask=missing), y) == pytest.approx(strongest, abs=1e-12)
    assert auc(pa.array(x), np.zeros(5_000, dtype=np.int64)) is None


def test_data_checks_need_enough_rows_of_each_class(platform: Platform) -> None:
    platform.lake.write("tiny", pa.table({"copy": [0, 1, 0, 1], "label": [0, 1, 0, 1]}))
    report = check_leakage(platform, "tiny")
    assert report.passed and report.aucs == {}
    assert any("need 20 rows of each label class" in note for note in report.notes)
