"""The scoring and profile commands as a user runs them: a real subprocess, --json, exit codes
and one-line errors; and the whole loop with a model trained and registered in MLflow."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from distillery import Platform
from tests.cli.test_cli import cli
from tests.conftest import ECID_A, ECID_B, event_rows
from tests.profiles.conftest import profile_row
from tests.scoring.conftest import AS_OF


@pytest.fixture
def people_home(home: Path) -> Path:
    from distillery.lake import xdm

    with Platform.open(home) as p:
        events = p.create_dataset("events", xdm.experience_event_schema(), profile_enabled=True)
        p.ingest(events, event_rows(2, ECID_A) + event_rows(2, ECID_B))
        people = p.create_dataset("profiles", xdm.profile_schema(), profile_enabled=True)
        p.ingest(people, [profile_row(ECID_A, emails=("ann@x.com",),
                                      loyalty={"tier": "gold"})])
    return home


def test_score_files_profiles_and_policies(people_home: Path, tmp_path: Path) -> None:
    scores = tmp_path / "scores.csv"
    scores.write_text(f"userId,prediction\n{ECID_A},0.4\n{ECID_B},oops\n")
    bad = cli("scores", "ingest", str(scores), home=people_home)
    assert bad.returncode == 1 and "TYPE_MISMATCH x1" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    good = cli("scores", "ingest", str(scores), "--error-threshold", "0.5", "--json",
               home=people_home)
    assert good.returncode == 0, good.stderr
    assert (json.loads(good.stdout)["output_records"], json.loads(good.stdout)["state"]) == \
        (1, "success")

    shown = cli("profile", "show", "--identity", "Email:ann@x.com", "--json", home=people_home)
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert view["person_id"] == f"ECID:{ECID_A}"
    assert view["attributes"]["_tenant"]["propensity"] == 0.4
    assert view["attributes"]["loyalty"]["tier"] == "gold" and len(view["events"]) == 2

    made = cli("profile", "policy", "scores-first", "--kind", "dataSetPrecedence", "--dataset",
               "propensity_scores", "--dataset", "profiles", "--default", "--json",
               home=people_home)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout) == {"name": "scores-first", "kind": "dataSetPrecedence",
                                       "datasets": ["propensity_scores", "profiles"],
                                       "default": True, "description": ""}

    missing = cli("profile", "show", "--identity", "Email:nobody@x.com", home=people_home)
    assert missing.returncode == 1 and "no profile holds identity" in missing.stderr


def test_errors_are_one_line(people_home: Path) -> None:
    r = cli("score", "--model", "nothing@champion", home=people_home)
    assert r.returncode == 1 and "not registered" in r.stderr
    r = cli("monitor", home=people_home)
    assert r.returncode == 1 and "no scoring runs" in r.stderr


@pytest.mark.slow
def test_the_whole_loop_with_a_registered_champion(home: Path, tmp_path: Path) -> None:
    """generate -> training set -> train and register (MLflow) -> `distillery score` ->
    `profile show` -> `monitor`."""
    from distillery.features import build_training_set
    from distillery.ml import train
    from distillery.synth import generate

    with Platform.open(home) as p:
        generate(p, 2000, seed=5, as_of=AS_OF, batch_users=2000)
        build_training_set(p, "experience_events", "training",
                           [AS_OF - timedelta(days=56), AS_OF - timedelta(days=42)],
                           horizon="14d")
        train(p, "training", trials=1, folds=2, baseline=False, plots=False, shap=False,
              ground_truth=False, params={"n_estimators": 30}, calibration="platt")
    as_of = (AS_OF - timedelta(days=28)).date().isoformat()
    scored = cli("score", "--as-of", as_of, "--json", home=home)
    assert scored.returncode == 0, scored.stderr
    info = json.loads(scored.stdout)
    assert (info["model"], info["version"], info["rows"] > 1000) == ("propensity", "1", True)
    assert info["profiles"]["persons"] == 2000
    # The champion's trees were compiled once, under the registry of the home.
    assert info["predictor"] == "native"
    assert len(list((home / "sandboxes" / "prod" / "models" / "native").glob("*/*.so"))) == 1
    with Platform.open(home) as p:
        ecid = p.query("SELECT _tenant.userid FROM propensity_scores LIMIT 1").scalar()
    shown = json.loads(cli("profile", "show", "--identity", f"ECID:{ecid}", "--json",
                           home=home).stdout)
    assert shown["scores"][0]["modelVersion"] == "1"
    assert shown["attributes"]["_tenant"]["decile"] == shown["scores"][0]["decile"]
    monitored = cli("monitor", "--json", "--plots", str(tmp_path / "plots"), home=home)
    assert monitored.returncode == 0, monitored.stderr
    report = json.loads(monitored.stdout)
    assert report["baseline"] == "training set 'training'"
    assert report["days"][0]["auc"] is not None and len(report["plots"]) == 3
