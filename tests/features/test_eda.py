"""EDA of an events dataset: the reference's views, checked against brute force."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from distillery import Platform
from distillery.features import FeatureError
from distillery.features.eda import explore
from tests.features.conftest import Ingest, T, ev, person

SENT, OPENED = "directMarketing.emailSent", "directMarketing.emailOpened"
CLICKED, FORM = "directMarketing.emailClicked", "web.formFilledOut"
H = timedelta(hours=1)
ROWS = [(1, SENT, 0), (1, OPENED, 1), (1, CLICKED, 2), (1, FORM, 3), (1, SENT, 4),
        (2, SENT, 0), (2, SENT, 1), (2, OPENED, 2),
        (3, OPENED, 0), (3, SENT, 5)]


@pytest.fixture
def story(ingest: Ingest) -> None:
    ingest([ev(who, kind, T + hours * H) for who, kind, hours in ROWS])


def test_counts_people_not_events(platform: Platform, story: None, tmp_path: Path) -> None:
    report = explore(platform, "events", output=tmp_path, plots=False)
    assert (report.overview["events"], report.overview["people"],
            report.overview["event_types"]) == (10, 3, 4)
    by_type = {r["event_type"]: (r["people"], r["events"])
               for r in report.tables["event_types"].to_pylist()}
    assert by_type == {SENT: (3, 5), OPENED: (3, 3), CLICKED: (1, 1), FORM: (1, 1)}


def test_funnel_follows_the_reference_steps(platform: Platform, story: None,
                                           tmp_path: Path) -> None:
    funnel = explore(platform, "events", output=tmp_path, plots=False).tables["funnel"]
    assert funnel.column("event_type").to_pylist() == [SENT, OPENED, CLICKED, FORM]
    assert funnel.column("people").to_pylist() == [3, 3, 1, 1]
    assert funnel.column("share_of_previous").to_pylist() == [1.0, 1.0, pytest.approx(1 / 3),
                                                              1.0]


def test_cooccurrence_matches_the_reference_self_join(platform: Platform, story: None,
                                                      tmp_path: Path) -> None:
    table = explore(platform, "events", output=tmp_path, plots=False).tables["cooccurrence"]
    got = {(r["first_type"], r["then_type"]): (r["people"], r["probability"])
           for r in table.to_pylist()}
    types = {kind for _, kind, _ in ROWS}
    for a, b in itertools.product(types, types):
        # The reference: a self-join on person with a.timestamp <= b.timestamp.
        both = {p for (p, ka, ta), (q, kb, tb) in itertools.product(ROWS, ROWS)
                if p == q and ka == a and kb == b and ta <= tb}
        with_a = {p for p, k, _ in ROWS if k == a}
        assert got[(a, b)] == (len(both), pytest.approx(len(both) / len(with_a))), (a, b)


def test_correlation_of_per_person_counts_with_converting(platform: Platform, story: None,
                                                          tmp_path: Path) -> None:
    report = explore(platform, "events", output=tmp_path, plots=False)
    counts = report.tables["user_counts"]
    people = counts.column("person").to_pylist()
    assert sorted(people) == [person(1), person(2), person(3)]
    converted = np.array(counts.column("converted").to_pylist())
    assert converted.tolist() == [int(p == person(1)) for p in people]
    sent = np.array(counts.column("count__directMarketing_emailSent").to_pylist())
    assert sorted(sent.tolist()) == [1, 2, 2]
    corr = {r["event_type"]: r["correlation"] for r in report.tables["correlation"].to_pylist()}
    assert corr[SENT] == pytest.approx(np.corrcoef(sent, converted)[0, 1])
    # Everyone opened exactly once: no variance, no correlation.
    assert corr[OPENED] is None


def test_writes_tables_and_plots(platform: Platform, story: None, tmp_path: Path) -> None:
    report = explore(platform, "events", output=tmp_path / "eda")
    names = {f.name for f in report.files}
    for view in ("event_types", "funnel", "cooccurrence", "correlation", "user_counts"):
        assert {f"{view}.png", f"{view}.html"} <= names
        assert (tmp_path / "eda" / f"{view}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "cooccurrence.csv" in names and "user_counts.parquet" in names
    # The HTML files share a local plotly.min.js: nothing is fetched when they are opened.
    assert (tmp_path / "eda" / "plotly.min.js").exists()
    assert "cdn.plot.ly" not in (tmp_path / "eda" / "funnel.html").read_text()


def test_default_output_is_under_the_sandbox(platform: Platform, story: None) -> None:
    report = explore(platform, "events", plots=False)
    assert report.files[0].parent == platform.root / "reports" / "eda" / "events"


def test_identity_is_configurable(platform: Platform, story: None, tmp_path: Path) -> None:
    report = explore(platform, "events", identity="_id", output=tmp_path, plots=False)
    assert report.overview["people"] == report.overview["events"] == 10


def test_bad_input(platform: Platform, story: None, tmp_path: Path) -> None:
    with pytest.raises(FeatureError, match="identity field 'nope'"):
        explore(platform, "events", identity="nope", output=tmp_path / "out")
    with pytest.raises(FeatureError, match="contains a query"):
        explore(platform, "events", conversion="eventType IN (SELECT 1)",
                output=tmp_path / "out")
    assert not (tmp_path / "out").exists()
