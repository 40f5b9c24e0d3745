"""Reach before creating: the 20-bin histogram, cumulative reach above and below, reach
between thresholds (the surface), expected conversions, exact rule sizes and the plots."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillery.audiences import AudienceError, Audiences
from distillery.audiences.reach import reach_between
from distillery.audiences.reachplot import plot
from tests.audiences.conftest import NOW, World


def test_histogram_and_cumulative_reach(world: World) -> None:
    reach = Audiences(world.platform).reach()
    assert (reach.source, reach.score, reach.total, reach.scored, reach.outside) == (
        "profiles", "_tenant.propensity", 10, 10, 0)
    assert len(reach.bins) == 20
    # Scores 0.0, 0.1, ..., 0.9 fall into every other bin of width 0.05.
    assert [b.people for b in reach.bins] == [1, 0] * 10
    assert [b.above for b in reach.bins][:4] == [10, 9, 9, 8]
    assert [b.below for b in reach.bins][:4] == [1, 1, 2, 2]
    assert reach.bins[18].lower == pytest.approx(0.9) and reach.bins[18].above == 1
    # Expected conversions are the sum of the calibrated probabilities.
    assert reach.bins[0].expected_above == pytest.approx(4.5)
    assert reach.bins[12].expected_above == pytest.approx(0.6 + 0.7 + 0.8 + 0.9)
    assert reach.to_dict()["expected_total"] == pytest.approx(4.5)


def test_between_any_two_edges_and_the_surface(world: World) -> None:
    reach = Audiences(world.platform).reach()
    people, expected = reach.between(0.2, 0.5)
    assert people == 3 and expected == pytest.approx(0.9)
    surface = reach.surface()
    assert len(surface) == 21 and surface[4][10] == 3 and surface[0][20] == 10
    assert surface[10][4] == 0
    with pytest.raises(AudienceError, match="0.33 is not a bin edge"):
        reach.between(0.33, 0.5)
    assert reach_between(world.platform, 0.33, 0.61) == (3, pytest.approx(0.4 + 0.5 + 0.6))


def test_reach_within_a_rule_and_exact_rule_sizes(world: World) -> None:
    audiences = Audiences(world.platform)
    rule = ('exists E from xEvent where E.eventType = "commerce.purchases" and '
            'E.timestamp occurs <= 20 days before now')
    reach = audiences.reach(rule=rule, as_of=NOW)
    assert reach.total == 5 and sum(b.people for b in reach.bins) == 5
    assert audiences.size(rule, as_of=NOW) == 5
    assert audiences.size("_{tenant}.propensity >= 0.2 and _{tenant}.propensity <= 0.93") == 8


def test_bins_range_and_score_are_checked(world: World) -> None:
    audiences = Audiences(world.platform)
    assert len(audiences.reach(bins=4).bins) == 4
    squeezed = audiences.reach(low=0.0, high=0.5)
    assert squeezed.outside == 4 and sum(b.people for b in squeezed.bins) == 6
    with pytest.raises(AudienceError, match="bins must be between 1 and 1000"):
        audiences.reach(bins=0)
    with pytest.raises(AudienceError, match="high > low"):
        audiences.reach(low=1, high=0)
    with pytest.raises(AudienceError, match="score field 'person.name.lastName' is string"):
        audiences.reach(score="person.name.lastName")
    with pytest.raises(AudienceError, match="score field 'nope' is not a field"):
        audiences.reach(score="nope")


def test_plots_as_png_and_html(world: World, tmp_path: Path) -> None:
    reach = Audiences(world.platform).reach()
    png = plot(reach, tmp_path / "reach.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = plot(reach, tmp_path / "reach.html").read_text()
    assert "Reach of _tenant.propensity" in html and "plotly" in html.lower()
    assert 'src="https://cdn.plot.ly' not in html  # the library is embedded: opens offline
    with pytest.raises(AudienceError, match="must end in .png or .html"):
        plot(reach, tmp_path / "reach.pdf")
