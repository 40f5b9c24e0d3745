"""The report rendered by a real browser (Debian's headless Chromium): every plot drawn, and a
screenshot kept in `artifacts/` at the project root."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillery import Platform
from distillery.report import build_report
from tests.report import browser
from tests.report.test_report import EXPECTED_FIGURES, SECTION_IDS

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
SCREEN = (1400, 2600)


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = browser.find()
    if binary is None:
        print("skipping: no chromium on PATH (install it: apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return binary


@pytest.mark.slow
@pytest.mark.xdist_group("report_loop")
def test_every_plot_is_drawn_in_a_browser_and_a_screenshot_is_kept(
        loop_home: Path, tmp_path: Path, chromium: str) -> None:
    with Platform.open(loop_home) as p:
        result = build_report(p, tmp_path / "report.html")
    page = browser.parse(browser.dump_dom(chromium, result.path, tmp_path))
    figures = {str(f["data-plot"]): f for f in page.figures}
    expected = set().union(*EXPECTED_FIGURES.values())
    assert expected <= set(figures)
    not_drawn = {k: f.get("data-rendered") for k, f in figures.items()
                 if f.get("data-rendered") != "true"}
    assert not not_drawn
    for name, f in figures.items():
        if f["data-kind"] == "plotly":
            assert int(f["svgs"]) >= 1, name  # plotly drew its SVG layers in the page
        else:
            assert int(f["imgs"]) == 1, name
    assert page.body["data-plots-rendered"] == page.body["data-plots-expected"] == \
        str(len(figures))
    assert page.sections == dict.fromkeys(SECTION_IDS, "ok")

    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    browser.screenshot(chromium, result.path, shot, tmp_path, SCREEN)
    _assert_real_png(shot)


def test_an_empty_report_renders_with_its_notes(tmp_path: Path, chromium: str) -> None:
    with Platform.open(tmp_path / "home") as p:
        result = build_report(p)
    page = browser.parse(browser.dump_dom(chromium, result.path, tmp_path))
    assert page.figures == []
    assert page.body["data-plots-expected"] == "0"
    assert page.sections == dict.fromkeys(SECTION_IDS, "missing")
    shot = ARTIFACTS / "report-empty.png"
    browser.screenshot(chromium, result.path, shot, tmp_path, (1200, 900))
    _assert_real_png(shot, size=(1200, 900))


def _assert_real_png(path: Path, size: tuple[int, int] = SCREEN) -> None:
    """A PNG of the page: the right size, and not blank (its pixels vary)."""
    from PIL import Image, ImageStat

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000
    with Image.open(path) as image:
        assert image.size == size
        stats = ImageStat.Stat(image.convert("L"))
        # A blank or single-colour page has a variance near 0; text and plots give hundreds.
        assert stats.var[0] > 200, stats.var
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is None or len(colours) > 50
