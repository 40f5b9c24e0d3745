"""`distillery run`: the whole loop as a user runs it, on a small population."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import cli


@pytest.mark.slow
def test_run_the_whole_loop_then_rerun_skips_everything(home: Path) -> None:
    args = ("run", "--users", "3000", "--seed", "3", "--as-of", "2026-06-01", "--trials", "2",
            "--json")
    first = cli(*args, home=home)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    names = [s["name"] for s in summary["steps"]]
    assert names == ["generate", "featurize", "export", "train", "score", "ingest_scores",
                     "audiences", "activate"]
    assert all(s["rows"] > 0 and not s["skipped"] for s in summary["steps"])
    assert 0.5 < summary["roc_auc"] < 1 and 0 <= summary["ece"] < 0.1
    assert summary["clairvoyant_auc"] > summary["roc_auc"] > summary["latent_auc"]
    assert set(summary["audiences"]) == {"reference_propensity", "top_decile"}
    assert summary["audiences"]["top_decile"] > 0
    written = [Path(f) for f in summary["files"]]
    assert any(p.suffix == ".parquet" and "cmle/egress" in str(p) for p in written)
    assert any(p.suffix == ".csv" and "cmle/ingress" in str(p) for p in written)
    assert any(p.parent == home / "activation" and p.suffix == ".csv" for p in written)
    assert all(p.exists() for p in written)

    again = json.loads(cli(*args, home=home).stdout)
    assert all(s["skipped"] for s in again["steps"])
    assert again["roc_auc"] == summary["roc_auc"]


def test_run_refuses_a_bad_date(home: Path) -> None:
    r = cli("run", "--users", "1000", "--as-of", "someday", home=home)
    assert r.returncode == 1 and "--as-of" in r.stderr
