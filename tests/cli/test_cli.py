"""The CLI as a user runs it: a real subprocess, exit codes, --json, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import ECID_A


def cli(*args: str, home: Path | None = None, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "distillery", *args]
    if home is not None:
        argv += ["--home", str(home)]
    return subprocess.run(argv, capture_output=True, text=True, input=stdin,
                          env={**os.environ, **(env or {})}, timeout=120)


@pytest.fixture
def events_csv(tmp_path: Path) -> Path:
    path = tmp_path / "my_events.csv"
    path.write_text(
        "customer,when,what,amount\n"
        "a@example.com,2024-03-01T10:00:00Z,purchase,19.90\n"
        "b@example.com,2024-03-02 09:30:00,view,\n"
        "c@example.com,2024-03-02 09:31:00,purchase,5\n"
        "anonymous,2024-03-03 00:00:00,view,\n"
    )
    return path


def test_init_creates_the_home_with_a_sandbox(home: Path) -> None:
    r = cli("init", "--json", home=home)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["sandbox"] == "prod" and info["sandboxes"] == ["prod"]
    assert (home / "config.yaml").exists() and (home / "sandboxes/prod/catalog.db").exists()


def test_home_from_environment(tmp_path: Path) -> None:
    r = cli("init", "--json", env={"DISTILLERY_HOME": str(tmp_path / "envhome")})
    assert r.returncode == 0 and json.loads(r.stdout)["home"] == str(tmp_path / "envhome")


def test_bring_your_own_events_then_query(home: Path, events_csv: Path, tmp_path: Path) -> None:
    r = cli("ingest", str(events_csv), "--dataset", "shop_events", "--create", "--class",
            "event", "--identity", "customer=Email", "--timestamp", "when", "--event-type",
            "what", "--error-threshold", "0.3", "--json", home=home)
    assert r.returncode == 0, r.stderr
    batch = json.loads(r.stdout)
    assert (batch["state"], batch["output_records"], batch["failed_records"]) == ("success", 3, 1)

    shown = cli("batch", "show", batch["id"], "--json", home=home)
    errors = json.loads(shown.stdout)["errors"]
    assert errors[0]["row"] == 4 and errors[0]["code"] == "INVALID_IDENTITY"
    assert errors[0]["field"] == "customer"

    q = cli("query", "SELECT eventType, round(sum(amount), 2) AS total FROM shop_events "
            "GROUP BY eventType ORDER BY eventType", "--json", home=home)
    assert json.loads(q.stdout) == [{"eventType": "purchase", "total": 24.9},
                                    {"eventType": "view", "total": None}]
    out = tmp_path / "out.parquet"
    w = cli("query", "SELECT * FROM shop_events", "--output", str(out), home=home)
    assert w.returncode == 0 and pq.read_table(out).num_rows == 3


def test_global_options_work_before_the_command(home: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "distillery", "--home", str(home), "--json",
                        "query", "SELECT 42 AS answer"], capture_output=True, text=True)
    assert json.loads(r.stdout) == [{"answer": 42}]


def test_errors_are_one_line_with_non_zero_exit(home: Path) -> None:
    r = cli("query", "SELECT * FROM missing_table", home=home)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "error: table missing_table does not exist in sandbox 'prod'; SHOW TABLES lists what "
        "does"]
    r = cli("query", "SELECT * FROM missing_table", "--debug", home=home)
    assert r.returncode == 1 and "Traceback" in r.stderr


def test_ingest_into_missing_dataset_says_how_to_create(home: Path, events_csv: Path) -> None:
    r = cli("ingest", str(events_csv), "--dataset", "nothing", home=home)
    assert r.returncode == 1 and "--create" in r.stderr


def test_failed_batch_exits_non_zero_and_keeps_the_data(home: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(f"_tenant.userid,_tenant.propensity\n{ECID_A},0.5\n")
    bad = tmp_path / "bad.csv"
    bad.write_text(f"_tenant.userid,_tenant.propensity\n{ECID_A},high\n")
    assert cli("dataset", "create", "scores", "--schema", str(_score_schema(tmp_path)),
               home=home).returncode == 0
    assert cli("ingest", str(good), "-d", "scores", home=home).returncode == 0
    r = cli("ingest", str(bad), "-d", "scores", home=home)
    assert r.returncode == 1 and "TYPE_MISMATCH" in r.stderr and "above the error" in r.stderr
    q = cli("query", "SELECT count(*) AS n FROM scores", "--json", home=home)
    assert json.loads(q.stdout) == [{"n": 1}]


def _score_schema(tmp_path: Path) -> Path:
    path = tmp_path / "scores.yaml"
    path.write_text("title: Scores\nclass: profile\nfield_groups:\n  - name: t\n    fields:\n"
                    "      - {name: _tenant, type: struct, fields: [{name: userid, type: string},"
                    " {name: propensity, type: double}]}\n"
                    "identities:\n  - {path: _tenant.userid, namespace: ECID, primary: true}\n")
    return path


def test_drop_asks_for_confirmation(home: Path) -> None:
    assert cli("dataset", "create", "ev", "--class", "event", home=home).returncode == 0
    refused = cli("dataset", "drop", "ev", home=home, stdin="n\n")
    assert refused.returncode == 1
    assert cli("dataset", "show", "ev", home=home).returncode == 0
    dropped = cli("dataset", "drop", "ev", home=home, stdin="y\n")
    assert dropped.returncode == 0
    gone = cli("dataset", "show", "ev", home=home)
    assert gone.returncode == 1 and "does not exist" in gone.stderr


def test_dataset_list_json(home: Path) -> None:
    cli("dataset", "create", "profiles", "--class", "profile", "--profile", home=home)
    items = json.loads(cli("dataset", "list", "--json", home=home).stdout)
    assert [(i["name"], i["class"], i["profile_enabled"]) for i in items] == [
        ("profiles", "profile", True)]
