"""The dataflow commands as a user runs them: a real subprocess, exit codes, --json, one-line
errors, and no secret in any output."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from distillery import Platform
from distillery.lake import xdm
from tests.cli.test_cli import cli
from tests.conftest import ECID_A
from tests.flows.conftest import Backend, free_port


@pytest.fixture
def trained(home: Path) -> Path:
    with Platform.open(home) as p:
        p.lake.write("training", pa.table({"userId": ["a", "b"], "x": [1.0, 2.0]}))
        p.create_dataset("scores", xdm.propensity_schema(), profile_enabled=True)
    return home


def test_export_then_latest(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "egress"
    r = cli("export", "training", "--to", str(out), "--format", "csv", "--run-id", "cli-1",
            "--json", home=trained)
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)
    assert (run["state"], run["rows"], run["files"]) == ("success", 2, 1)
    latest = cli("flows", "latest", "training", "--from", str(out), "--verify", "--json",
                 home=trained)
    assert latest.returncode == 0, latest.stderr
    info = json.loads(latest.stdout)
    assert info["run_id"] == "cli-1" and info["files"][0].endswith("part-00000.csv")
    plain = cli("export", "training", "--to", str(out), "--run-id", "cli-1", home=trained)
    assert plain.returncode == 0 and "cli-1" in plain.stdout


def test_saved_flows_lifecycle(trained: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "ingress" / "exportTime=20240101000000"
    inbox.mkdir(parents=True)
    (inbox / "scores.csv").write_text(f"userId,prediction\n{ECID_A},0.4\n")
    steps = [
        ("flows", "create-export", "out", "--dataset", "training", "--to",
         str(tmp_path / "egress"), "--incremental", "--schedule", "every 15m"),
        ("flows", "create-source", "in", "--from", str(tmp_path / "ingress"), "--dataset",
         "scores", "--map", "userId -> _tenant.userid", "--map",
         "prediction -> _tenant.propensity", "--schedule", "*/15 * * * *"),
        ("flows", "run", "in"),
        ("flows", "run-due"),
    ]
    for argv in steps:
        r = cli(*argv, "--json", home=trained)
        assert r.returncode == 0, (argv, r.stderr)
    listed = json.loads(cli("flows", "list", "--json", home=trained).stdout)
    assert {f["name"]: f["kind"] for f in listed} == {"out": "export", "in": "source"}
    runs = json.loads(cli("flows", "runs", "--json", home=trained).stdout)
    assert {(r["dataflow"], r["state"]) for r in runs} == {("in", "success"),
                                                           ("out", "success")}
    shown = json.loads(cli("flows", "show", "in", "--json", home=trained).stdout)
    assert shown["runs"][0]["rows"] == 1 and shown["schedule"] == "*/15 * * * *"
    assert cli("flows", "delete", "out", home=trained).returncode == 0
    table = cli("flows", "list", home=trained)
    assert "in" in table.stdout and "out " not in table.stdout


@pytest.mark.parametrize(("argv", "message"), [
    (("export", "training", "--to", "/tmp/x", "--format", "xml"), "format 'xml'"),
    (("export", "nope", "--to", "/tmp/x"), "dataset 'nope'"),
    (("flows", "create-source", "s", "--from", "/tmp/x", "--dataset", "scores", "--map",
      "prediction = _tenant.propensity"), "EXPRESSION -> FIELD"),
    (("flows", "create-export", "e", "--dataset", "training", "--to", "/x", "--schedule",
      "whenever"), "schedule 'whenever'"),
    (("flows", "run", "ghost"), "dataflow 'ghost'"),
    (("connection", "add", "c", "--protocol", "s3", "--option", "secret=abc"), "credentials"),
])
def test_bad_input_is_one_clear_line(trained: Path, argv: tuple[str, ...],
                                     message: str) -> None:
    r = cli(*argv, home=trained)
    assert r.returncode == 1
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 3


def test_secret_never_in_cli_output(trained: Path) -> None:
    secret = "cli-secret-93be1a77"
    env = {"CLI_S3_KEY": "AKIAEXAMPLE", "CLI_S3_SECRET": secret}
    add = cli("connection", "add", "dead", "--protocol", "s3", "--endpoint-url",
              f"http://127.0.0.1:{free_port()}", "--secret", "key=env:CLI_S3_KEY",
              "--secret", "secret=env:CLI_S3_SECRET", "--json", home=trained, env=env)
    assert add.returncode == 0, add.stderr
    listed = cli("connection", "list", "--json", home=trained, env=env)
    failed = cli("export", "training", "--to", "s3://bucket/x", "--connection", "dead",
                 home=trained, env=env)
    runs = cli("flows", "runs", "--json", home=trained, env=env)
    assert failed.returncode == 1 and "s3://bucket/x" in failed.stdout + failed.stderr
    for r in (add, listed, failed, runs):
        assert secret not in r.stdout + r.stderr
    assert "env:CLI_S3_SECRET" in listed.stdout


@pytest.mark.services
def test_export_to_object_storage_from_the_cli(trained: Path, tmp_path: Path,
                                               request: pytest.FixtureRequest,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.flows.conftest import make_backend

    backend: Backend = make_backend("azure", tmp_path, request, monkeypatch)
    backend.configure(trained)
    r = cli("export", "training", "--to", backend.url, "--json", home=trained, env=backend.env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["details"]["folder"].startswith(backend.url)


def test_scheduler_command_runs_due_flows(trained: Path, tmp_path: Path) -> None:
    made = cli("flows", "create-export", "tick", "--dataset", "training", "--to",
               str(tmp_path / "egress"), "--schedule", "every 1s", home=trained)
    assert made.returncode == 0, made.stderr
    r = cli("scheduler", "--poll", "0.2", "--max-runs", "2", "--json", home=trained)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"runs": 2}
    runs = json.loads(cli("flows", "runs", "tick", "--json", home=trained).stdout)
    assert [r["trigger"] for r in runs] == ["schedule", "schedule"]
