"""Source dataflows on every storage: each new file once, changed files replayed, mappings
with expressions, bad rows by the batch rules, bad files named."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillery import Platform
from distillery.flows.dataflows import Dataflows
from distillery.flows.specs import SourceSpec
from distillery.lake import xdm
from tests.conftest import ECID_A, ECID_B
from tests.flows.conftest import Backend

ECID_C = "11112222333344445555666677778888999900"


@pytest.fixture
def scores(platform: Platform):
    return platform.create_dataset("scores", xdm.propensity_schema(), profile_enabled=True)


def put(backend: Backend, home: Path, rel: str, text: str) -> None:
    store = backend.storage(home)
    if backend.name == "local":
        store.makedirs(rel.rsplit("/", 1)[0] if "/" in rel else "")
    store.write_bytes(rel, text.encode())


def source(flows: Dataflows, backend: Backend, name: str = "scores-in",
           **options) -> None:
    mapping = options.pop("mapping", {"_tenant.userid": "userId",
                                      "_tenant.propensity": "prediction"})
    flows.create(name, SourceSpec(url=backend.url, dataset="scores", mapping=mapping,
                                  **options))


def propensities(platform: Platform) -> dict[str, float]:
    return dict(platform.query("SELECT _tenant.userid, _tenant.propensity FROM scores").rows())


def test_each_file_once_changed_file_replayed(platform: Platform, scores,
                                              backend: Backend) -> None:
    home = platform.home
    put(backend, home, "exportTime=20240101000000/part-1.csv",
        f"userId,prediction\n{ECID_A},0.25\n{ECID_B},0.5\n")
    put(backend, home, "exportTime=20240101000000/_SUCCESS", "")
    flows = Dataflows(platform)
    source(flows, backend)
    first = flows.run("scores-in")
    assert (first.state, first.rows, first.files) == ("success", 2, 1)
    assert first.details["files"][0]["url"].startswith(backend.url)
    assert propensities(platform) == {ECID_A: 0.25, ECID_B: 0.5}

    put(backend, home, "exportTime=20240102000000/nested/part-2.csv",
        f"userId,prediction\n{ECID_C},0.75\n")
    second = flows.run("scores-in")
    assert (second.rows, second.details["ingested"], second.details["skipped"]) == (1, 1, 1)

    put(backend, home, "exportTime=20240101000000/part-1.csv",
        f"userId,prediction\n{ECID_A},0.3\n")
    third = flows.run("scores-in")
    assert (third.details["replayed"], third.details["skipped"]) == (1, 1)
    assert propensities(platform) == {ECID_A: 0.3, ECID_C: 0.75}
    old = platform.batch(first.details["files"][0]["batch_id"])
    assert old.state == "replaced"

    again = flows.run("scores-in")
    assert (again.rows, again.files, again.details["skipped"]) == (0, 0, 2)


def test_expressions_and_bad_rows_follow_batch_rules(platform: Platform, scores,
                                                     backend: Backend) -> None:
    put(backend, platform.home, "in/scores.csv",
        f"userId,prediction\n{ECID_A},0.5\n{ECID_B},not-a-number\n{ECID_C},0.25\n")
    flows = Dataflows(platform)
    source(flows, backend, mapping={"_tenant.userid": "userId",
                                    "_tenant.propensity": "prediction / 10"},
           error_threshold=0.5)
    run = flows.run("scores-in")
    assert run.state == "success" and run.rows == 2
    assert propensities(platform) == {ECID_A: 0.05, ECID_C: 0.025}
    file = run.details["files"][0]
    errors = platform.catalog.batch_errors(file["batch_id"])
    assert len(errors) == 1 and errors[0]["row"] == 2
    assert errors[0]["source"] == file["url"] and "not-a-number" in errors[0]["message"]
    assert errors[0]["field"] == "_tenant.propensity"


def test_bad_file_fails_its_batch_and_is_named(platform: Platform, scores,
                                               backend: Backend) -> None:
    put(backend, platform.home, "good.csv", f"userId,prediction\n{ECID_A},0.5\n")
    put(backend, platform.home, "wrong.csv", f"user,score\n{ECID_B},0.5\n")
    flows = Dataflows(platform)
    source(flows, backend)
    run = flows.run("scores-in")
    assert run.state == "failed" and run.rows == 1
    assert "wrong.csv" in run.error and "userId" in run.error
    failed = [f for f in run.details["files"] if f["state"] == "failed"]
    assert [f["url"].rsplit("/", 1)[-1] for f in failed] == ["wrong.csv"]
    batch = platform.batch(failed[0]["batch_id"])
    assert batch.state == "failed"
    assert "/distillery-source-" not in batch.message  # names the URL, not a download
    # Fixed upstream: the next run ingests it.
    put(backend, platform.home, "wrong.csv", f"userId,prediction\n{ECID_B},0.5\n")
    retry = flows.run("scores-in")
    assert (retry.state, retry.rows, retry.details["skipped"]) == ("success", 1, 1)


def test_pattern_and_hidden_files(platform: Platform, scores, backend: Backend) -> None:
    put(backend, platform.home, "a/keep.csv", f"userId,prediction\n{ECID_A},0.5\n")
    put(backend, platform.home, "a/skip.json", f'{{"userId": "{ECID_B}", "prediction": 1}}\n')
    put(backend, platform.home, "a/.tmp.csv", "garbage\n")
    put(backend, platform.home, "_temporary/x.csv", "garbage\n")
    flows = Dataflows(platform)
    source(flows, backend, pattern="*.csv")
    run = flows.run("scores-in")
    assert (run.state, run.files) == ("success", 1)
    assert run.details["files"][0]["url"].endswith("a/keep.csv")


def test_missing_folder_fails_the_run_with_its_url(platform: Platform, scores,
                                                   backend: Backend) -> None:
    flows = Dataflows(platform)
    flows.create("nowhere", SourceSpec(url=f"{backend.url}/missing", dataset="scores"))
    run = flows.run("nowhere")
    assert run.state == "failed" and f"{backend.url}/missing" in run.error
