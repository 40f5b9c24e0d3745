"""The `eda` and `features` commands, run in process through the real entry point (and once as
a subprocess for the exit code a shell sees)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from distillery import Platform
from distillery.cli.context import run_guarded
from distillery.cli.main import app
from tests.features.conftest import Ingest, T, ev

DAY = timedelta(days=1)


@pytest.fixture
def story(ingest: Ingest, platform: Platform) -> Path:
    ingest([ev(1, "commerce.purchases", T - DAY), ev(1, "web.formFilledOut", T + DAY),
            ev(2, "commerce.productViews", T - 2 * DAY), ev(2, "commerce.purchases", T + DAY),
            ev(3, "directMarketing.emailSent", T - 3 * DAY)])
    return platform.home


def run(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        run_guarded(app, [*args, "--home", str(home)])
    captured = capsys.readouterr()
    return int(done.value.code or 0), captured.out, captured.err


def test_build_show_and_check_a_default_set(capsys: pytest.CaptureFixture[str],
                                            story: Path) -> None:
    code, out, err = run(capsys, story, "features", "build", "--events", "events", "--output",
                         "training", "--cutoff", T.date().isoformat(), "--horizon", "7d",
                         "--conversion", "eventType = 'web.formFilledOut'", "--json")
    assert code == 0, err
    built = json.loads(out)
    assert (built["dataset"], built["rows"], built["positives"]) == ("training", 3, 1)
    code, out, _ = run(capsys, story, "features", "show", "training", "--json")
    shown = json.loads(out)
    assert code == 0 and "count_7d__commerce_purchases" in shown["features"]
    assert shown["conversion"]["condition"] == "eventType = 'web.formFilledOut'"
    code, out, _ = run(capsys, story, "features", "check", "training", "--json")
    assert code == 0 and json.loads(out)["passed"] is True


def test_check_fails_on_the_reference_compatible_set(capsys: pytest.CaptureFixture[str],
                                                     story: Path) -> None:
    code, out, err = run(capsys, story, "features", "build", "--reference-compatible",
                         "--events", "events", "--output", "ref", "--json")
    assert code == 0, err
    assert json.loads(out)["rows"] == 3
    code, out, _ = run(capsys, story, "features", "check", "ref", "--json")
    report = json.loads(out)
    assert code == 1 and report["passed"] is False
    assert {f["check"] for f in report["findings"]} >= {"timing"}
    code, out, _ = run(capsys, story, "features", "check", "ref")
    assert code == 1 and "leakage" in out


def test_bad_conversion_is_one_clear_error(capsys: pytest.CaptureFixture[str],
                                           story: Path) -> None:
    code, out, err = run(capsys, story, "features", "build", "--events", "events", "--output",
                         "training", "--cutoff", "2025-02-01",
                         "--conversion", "eventType = 'x'; DROP TABLE events")
    assert code == 1 and out == ""
    assert "error:" in err and "--conversion" in err and "2 statements" in err
    assert "training" not in {d.name for d in Platform.open(story).datasets()}


def test_population_and_state_options(capsys: pytest.CaptureFixture[str], story: Path) -> None:
    code, out, err = run(capsys, story, "features", "update-state", "state", "--events",
                         "events", "--json")
    assert code == 0, err
    assert json.loads(out)["mode"] == "created"
    code, out, err = run(capsys, story, "features", "build", "--events", "events", "--output",
                         "repeat", "--cutoff", "2025-02-01", "--conversion-type",
                         "commerce.purchases", "--population", "all", "--state", "state",
                         "--json")
    assert code == 0, err
    assert (json.loads(out)["rows"], json.loads(out)["positives"]) == (3, 1)
    code, _, err = run(capsys, story, "features", "build", "--events", "events", "--output",
                       "x", "--cutoff", "2025-02-01", "--population", "some")
    assert code == 1 and "--population must be one of" in err


def test_eda_json(capsys: pytest.CaptureFixture[str], story: Path, tmp_path: Path) -> None:
    code, out, err = run(capsys, story, "eda", "events", "--no-plots", "--output",
                         str(tmp_path / "eda"), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["overview"]["events"], report["overview"]["people"]) == (5, 3)
    assert report["user_counts"]["rows"] == 3
    assert (tmp_path / "eda" / "funnel.csv").exists()


def test_the_shell_sees_a_non_zero_exit_on_leakage(story: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "distillery", *args, "--home", str(story)],
                              capture_output=True, text=True, timeout=120)

    assert cli("features", "build", "--reference-compatible", "--events", "events",
               "--output", "ref").returncode == 0
    checked = cli("features", "check", "ref", "--json")
    assert checked.returncode == 1
    assert json.loads(checked.stdout)["findings"]
