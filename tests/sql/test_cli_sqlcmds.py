"""`distillery template ...` and `distillery queries` as a user runs them: real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "distillery", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def numbers_home(home: Path) -> Path:
    made = cli(home, "query", "CREATE TABLE numbers AS SELECT x FROM range(10) t(x)")
    assert made.returncode == 0, made.stderr
    return home


@pytest.mark.slow
def test_save_and_run_a_template(numbers_home: Path) -> None:
    saved = cli(numbers_home, "template", "save", "at_least",
                "SELECT count(*) AS n FROM numbers WHERE x >= $lo", "--json")
    assert saved.returncode == 0, saved.stderr
    assert json.loads(saved.stdout)["parameters"] == ["lo"]
    ran = cli(numbers_home, "template", "run", "at_least", "--param", "lo=7", "--json")
    assert ran.returncode == 0, ran.stderr
    run = json.loads(ran.stdout)
    assert (run["state"], run["rows"], run["params"]) == ("SUCCESS", 1, {"lo": "7"})
    missing = cli(numbers_home, "template", "run", "at_least")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "error: template 'at_least' needs a value for parameter(s) $lo"]
    malformed = cli(numbers_home, "template", "run", "at_least", "--param", "lo")
    assert malformed.returncode == 1 and "must be written name=value" in malformed.stderr


@pytest.mark.slow
def test_async_runs_are_listed_with_their_state(numbers_home: Path) -> None:
    cli(numbers_home, "template", "save", "bad", "SELECT * FROM nowhere WHERE x = $x")
    cli(numbers_home, "template", "save", "good", "SELECT x FROM numbers WHERE x < $hi")
    submitted = cli(numbers_home, "template", "run", "good", "--param", "hi=4", "--async",
                    "--json")
    assert submitted.returncode == 0, submitted.stderr
    good = json.loads(submitted.stdout)
    assert good["state"] == "SUBMITTED"
    waited = cli(numbers_home, "queries", "--run", good["id"], "--wait", "--timeout", "90",
                 "--json")
    assert waited.returncode == 0, waited.stderr
    assert (json.loads(waited.stdout)["state"], json.loads(waited.stdout)["rows"]) == \
        ("SUCCESS", 4)
    failed = cli(numbers_home, "template", "run", "bad", "--param", "x=1", "--json")
    assert failed.returncode == 1 and json.loads(failed.stdout)["error_code"] == "42P01"
    listed = json.loads(cli(numbers_home, "queries", "--json").stdout)
    assert [(r["template"], r["state"]) for r in listed] == [("bad", "FAILED"),
                                                           ("good", "SUCCESS")]
    shown = cli(numbers_home, "queries")
    assert shown.returncode == 0 and "FAILED" in shown.stdout and "42P01" in shown.stdout
