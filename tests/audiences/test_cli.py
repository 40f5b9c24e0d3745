"""`distillery audience ...` as a user runs it: a real subprocess, --json, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audiences.conftest import World


def cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "distillery", *args, "--home", str(home)],
                          capture_output=True, text=True, timeout=120)


def ok(home: Path, *args: str) -> object:
    done = cli(home, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_audience_commands(world: World, home: Path, tmp_path: Path) -> None:
    made = ok(home, "audience", "create", "likely", "--rule",
              "_{tenant}.propensity >= 0.2 and _{tenant}.propensity <= 0.93", "--ttl", "60",
              "--evaluate")
    assert made["job"]["state"] == "SUCCEEDED" and made["job"]["qualified"] == 8
    assert made["ttl"] == "60 days" and made["expires_at"]
    listed = ok(home, "audience", "list")
    assert [a["name"] for a in listed] == ["likely"]
    shown = ok(home, "audience", "show", "likely")
    assert "SELECT DISTINCT" in shown["sql"] and shown["source"] == "profiles"
    reach = ok(home, "audience", "reach", "--between", "0.2", "0.5", "--plot",
               str(tmp_path / "reach.png"))
    assert len(reach["bins"]) == 20 and reach["between"]["people"] == 4
    assert (tmp_path / "reach.png").stat().st_size > 0
    assert ok(home, "audience", "size", "_tenant.propensity > 0.5")["people"] == 4
    jobs = ok(home, "audience", "evaluate", "likely")
    assert jobs[0]["existing"] == 8 and jobs[0]["realized"] == 0
    assert len(ok(home, "audience", "members", "likely")) == 8
    assert len(ok(home, "audience", "jobs", "likely")) == 2
    assert ok(home, "audience", "drop", "likely") == {"dropped": "likely"}


@pytest.mark.slow
def test_audience_errors_are_one_line_and_exit_non_zero(world: World, home: Path) -> None:
    bad = cli(home, "audience", "create", "bad", "--rule", "_tenant.propensty > 1")
    assert bad.returncode == 1
    assert "did you mean _tenant.propensity?" in bad.stderr and "Traceback" not in bad.stderr
    missing = cli(home, "audience", "show", "nope")
    assert missing.returncode == 1 and "audience 'nope' does not exist" in missing.stderr
    both = cli(home, "audience", "create", "x", "--rule", "a > 1", "--sql", "SELECT 1")
    assert both.returncode == 1 and "exactly one of --rule or --sql" in both.stderr
