"""The notebooks, executed headless (nbclient, the venv's python3 kernel) so none can rot:
all seven in order on one fresh home, and the last one alone on another fresh home (its
catch-up runs every earlier step). Each run's outputs are checked in the home it wrote."""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from distillery import Platform

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "notebooks"
ORDER = ["01_generate_synthetic_data.ipynb", "02_eda_and_featurization.ipynb",
         "03_export_training_data.ipynb", "04_train_propensity_model.ipynb",
         "05_score.ipynb", "06_ingest_scores.ipynb", "07_create_and_activate_audiences.ipynb"]
USERS = 4000  # modest: every notebook runs in seconds on two shared cores
CELL_TIMEOUT_S = 900


def execute(name: str, home: Path, monkeypatch: pytest.MonkeyPatch, label: str
            ) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in the notebooks folder, on `home`; keep the executed
    copy as artifacts/notebooks/{label}/{name} for whoever reads a failed CI run."""
    monkeypatch.setenv("DISTILLERY_HOME", str(home))
    monkeypatch.setenv("DISTILLERY_NOTEBOOK_USERS", str(USERS))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    try:
        client.execute()
    finally:
        (ARTIFACTS / label).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, ARTIFACTS / label / name)
    return nb


def text_of(nb: nbformat.NotebookNode) -> str:
    """Everything the notebook printed."""
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []) if o.output_type == "stream")


def images(nb: nbformat.NotebookNode) -> int:
    """How many PNG outputs (plots) the notebook produced."""
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.get("outputs", []))


def test_notebooks_are_clean_and_share_one_setup() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == ORDER
    for number, name in enumerate(ORDER, start=1):
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"  # papermill needs it too
        code = [c for c in nb.cells if c.cell_type == "code"]
        prose = [c for c in nb.cells if c.cell_type == "markdown"]
        assert len(prose) >= 4 and prose[0].source.startswith(f"# {number}. ")
        assert all(not c.outputs and c.execution_count is None for c in code), name
        if number > 1:
            assert f"steps.catch_up(platform, {number})" in code[0].source, name


@pytest.mark.slow
def test_all_seven_in_order_on_a_fresh_home(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    seconds, done = {}, {}
    for name in ORDER:
        started = time.perf_counter()
        done[name] = execute(name, home, monkeypatch, "in-order")
        seconds[name] = round(time.perf_counter() - started, 1)
    print("seconds per notebook:", seconds)
    # Later notebooks found the earlier steps' outputs instead of redoing them.
    assert "1 generate: events already in the home" in text_of(done[ORDER[1]])
    assert "4 train: champion is version 1" in text_of(done[ORDER[4]])
    assert "same rows as in process: True" in text_of(done[ORDER[1]])
    assert all(images(done[n]) >= 1 for n in ORDER if n != ORDER[2]), \
        {n: images(done[n]) for n in ORDER}
    check_home(home, scorings=2, versions=1)


@pytest.mark.slow
def test_the_last_notebook_runs_alone_on_a_fresh_home(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    nb = execute(ORDER[-1], home, monkeypatch, "alone")
    printed = text_of(nb)
    for step in ("1 generate: 4,000 users", "2 featurize:", "3 export: ", "4 train: version 1",
                 "5 score: ", "6 profiles: "):
        assert step in printed, step
    check_home(home, scorings=2, versions=1)


def check_home(home: Path, *, scorings: int, versions: int) -> None:
    """What the seven steps leave in a home, read back through the public API."""
    from distillery import scoring
    from distillery.audiences import Audiences
    from distillery.destinations import RunStore
    from distillery.flows.discovery import latest_export
    from distillery.ml import models
    from distillery.report import OK, default_path

    with Platform.open(home, create=False) as p:
        people = p.query("SELECT count(DISTINCT _tenant.userid) FROM profiles").scalar()
        assert people == USERS
        assert p.query("SELECT count(*) FROM experience_events").scalar() > 5 * USERS
        training = p.dataset("training")
        rows = p.query("SELECT count(*) FROM training").scalar()
        export = latest_export(str(p.root / "landing" / "cmle" / "egress"), training.id)
        assert export is not None and export.rows == rows > 0
        assert [(m["version"], m["aliases"]) for m in models(p)][:versions] == [(1, ["champion"])]
        runs = scoring.list_runs(p.catalog)
        assert len(runs) == scorings and runs[0].delivery == "csv"
        scored = p.query("SELECT count(_tenant.propensity) FROM unified_profiles").scalar()
        assert 0.9 * USERS < scored <= USERS
        audiences = Audiences(p)
        assert {a.name for a in audiences.list()} == {"likely_converters",
                                                      "loyal_likely_converters"}
        assert all(j.state == "SUCCEEDED" for j in audiences.jobs())
        assert len(audiences.jobs("likely_converters")) == 2
        activations = RunStore(p.catalog).list()
        assert {r.state for r in activations} == {"succeeded"} and len(activations) == 4
        report = default_path(p)
    html = report.read_text()
    assert re.findall(r'data-section="(\w+)" data-status="(\w+)"', html) and \
        set(re.findall(r'data-status="(\w+)"', html)) == {OK}
