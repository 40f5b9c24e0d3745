"""`distillery generate` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import cli


def test_generate_writes_datasets_and_a_rerun_changes_nothing(home: Path) -> None:
    args = ("generate", "--users", "3000", "--seed", "7", "--as-of", "2026-01-15",
            "--batch-users", "1000", "--json")
    first = cli(*args, home=home)
    assert first.returncode == 0, first.stderr
    info = json.loads(first.stdout)
    assert info["users"] == 3000 and info["as_of"].startswith("2026-01-15")
    assert info["datasets"]["profiles"]["rows"] == 3000
    assert info["datasets"]["events"]["batches"] == 3
    events = info["events"]
    again = json.loads(cli(*args, home=home).stdout)
    assert again["events"] == events
    counted = cli("query", "SELECT (SELECT count(*) FROM experience_events) AS n, "
                  "(SELECT count(DISTINCT _tenant.userid) FROM profiles) AS users",
                  "--json", home=home)
    assert json.loads(counted.stdout) == [{"n": events, "users": 3000}]


def test_generate_refuses_unknown_scenario_and_bad_dates(home: Path) -> None:
    r = cli("generate", "--users", "10", "--scenario", "fantasy", home=home)
    assert r.returncode == 1 and "--scenario must be one of" in r.stderr
    r = cli("generate", "--users", "10", "--as-of", "last tuesday", home=home)
    assert r.returncode == 1 and "--as-of" in r.stderr
