"""`distillery train` and `distillery models` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from distillery import Platform


def cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "distillery", "--home", str(home), *args],
                          capture_output=True, text=True, env=dict(os.environ), timeout=300)


@pytest.mark.slow
def test_train_json_prints_run_version_and_every_metric(ml_platform: Platform,
                                                        training_set: str) -> None:
    r = cli(ml_platform.home, "train", "--dataset", training_set, "--trials", "2", "--folds",
            "3", "--no-plots", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["version"] == 1 and len(out["run_id"]) == 32
    assert 0.5 < out["roc_auc"] <= 1 and "cv_roc_auc_mean" in out and "ece" in out
    listed = json.loads(cli(ml_platform.home, "models", "--json").stdout)
    assert [(m["name"], m["version"], m["aliases"]) for m in listed] == [
        ("propensity", 1, ["champion"])]
    shown = json.loads(cli(ml_platform.home, "models", "show", "--json").stdout)
    assert shown["card"]["features"] == out["features"]


@pytest.mark.slow
def test_errors_are_one_line_and_name_the_problem(ml_platform: Platform,
                                                  training_set: str) -> None:
    r = cli(ml_platform.home, "train", "--dataset", training_set, "--label", "missing")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "error: label column 'missing' is not in training set 'ts' (its columns: userid, "
        "cutoff, visits, spend, plan, opted_in, label)"]
    r = cli(ml_platform.home, "train", "--dataset", training_set, "--model", "svm")
    assert r.returncode == 1 and "model 'svm' is unknown" in r.stderr
    r = cli(ml_platform.home, "models", "show", "nothing")
    assert r.returncode == 1 and "'nothing' is not registered" in r.stderr
