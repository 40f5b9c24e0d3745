"""Exports check data-usage labels before anything leaves: a label that forbids the export's
purpose refuses it with a GovernanceError naming dataset, field and label, and no file is
written; labels a CTAS carried to a derived dataset count too. Exported files carry the labels:
the manifest lists those the dataset had at export time, so whoever reads the files later knows
what they may be used for."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from distillery import Platform
from distillery.flows.dataflows import Dataflows
from distillery.flows.export import MANIFEST, export_dataset
from distillery.flows.specs import ExportSpec
from distillery.lake import labels
from distillery.lake.labels import GovernanceError


@pytest.fixture
def training(platform: Platform):
    platform.lake.write("training", pa.table({"userId": ["a", "b", "c"],
                                              "email": ["a@x", "b@x", "c@x"],
                                              "score": [0.1, 0.5, 0.9]}))
    return platform.dataset("training")


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_a_field_label_that_forbids_export_refuses_it(platform: Platform, training,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "out"
    labels.add_labels(platform, "training", ["C12"], field="email")
    with pytest.raises(GovernanceError) as info:
        export_dataset(platform, "training", str(out), run_id="r1")
    err = info.value
    assert (err.dataset, err.field, err.label, err.purpose) == (
        "training", "email", "C12", "export")
    assert "label C12 (no export of any kind) on field 'email' of dataset 'training' " \
           "forbids export" in str(err)
    assert files_under(out) == []


def test_a_dataset_label_refuses_it_for_every_field(platform: Platform, training,
                                                     tmp_path: Path) -> None:
    labels.add_labels(platform, "training", ["C1"])
    with pytest.raises(GovernanceError, match=r"label C1 .* on every field of dataset "
                                              r"'training' forbids export") as info:
        export_dataset(platform, "training", str(tmp_path / "out"), run_id="r1")
    assert info.value.field == labels.ALL_FIELDS
    assert files_under(tmp_path / "out") == []


def test_c2_forbids_only_an_export_to_a_third_party(platform: Platform, training,
                                                    tmp_path: Path) -> None:
    labels.add_labels(platform, "training", ["C2"], field="email")
    with pytest.raises(GovernanceError, match=r"label C2 .* forbids export:third-party"):
        export_dataset(platform, "training", str(tmp_path / "theirs"), run_id="r1",
                       purpose="export:third-party")
    assert files_under(tmp_path / "theirs") == []
    # Labels that forbid other uses (C2 for third parties, C9 for data science) do not
    # stop an export to the organisation's own storage.
    labels.add_labels(platform, "training", ["C9"], field="score")
    result = export_dataset(platform, "training", str(tmp_path / "ours"), run_id="r2")
    assert result.rows == 3


def test_a_refused_dataflow_run_is_recorded_as_failed(platform: Platform, training,
                                                      tmp_path: Path) -> None:
    labels.add_labels(platform, "training", ["C12"], field="email")
    flows = Dataflows(platform)
    once = flows.export("training", str(tmp_path / "once"))
    assert once.state == "failed"
    assert "GovernanceError: label C12" in (once.error or "")
    flows.create("nightly", ExportSpec(dataset="training", url=str(tmp_path / "nightly")))
    run = flows.run("nightly")
    assert run.state == "failed" and "field 'email' of dataset 'training'" in (run.error or "")
    assert files_under(tmp_path / "once") == files_under(tmp_path / "nightly") == []


def test_labels_carried_by_a_ctas_refuse_the_derived_export(platform: Platform, training,
                                                           tmp_path: Path) -> None:
    labels.add_labels(platform, "training", ["C12"], field="email")
    platform.query("CREATE TABLE contacts AS SELECT userId, upper(email) AS address "
                   "FROM training")
    platform.query("CREATE TABLE scores AS SELECT userId, score FROM training")
    with pytest.raises(GovernanceError) as info:
        export_dataset(platform, "contacts", str(tmp_path / "c"), run_id="r1")
    assert (info.value.dataset, info.value.field) == ("contacts", "address")
    assert export_dataset(platform, "scores", str(tmp_path / "s"), run_id="r2").rows == 3


def manifest_of(result) -> dict:
    return json.loads((Path(result.url) / MANIFEST).read_text())


def test_the_manifest_lists_the_labels_at_export_time(platform: Platform, training,
                                                      tmp_path: Path) -> None:
    labels.add_labels(platform, "training", ["C9", "C2"], field="email")
    labels.add_labels(platform, "training", ["C4"], field="score")
    labels.add_labels(platform, "training", ["C5"])
    result = export_dataset(platform, "training", str(tmp_path / "out"), run_id="r1",
                            export_time="20250301000000")
    expected = {"dataset": ["C5"], "fields": {"email": ["C2", "C9"], "score": ["C4"]}}
    assert manifest_of(result)["labels"] == expected
    assert result.labels == expected
    # Labels added afterwards are not in the files written before them; repeating the run
    # finds the finished export and reports what its manifest says.
    labels.add_labels(platform, "training", ["C8"], field="userId")
    again = export_dataset(platform, "training", str(tmp_path / "out"), run_id="r1",
                           export_time="20250301000000")
    assert again.reused and again.labels == expected
    assert manifest_of(again)["labels"] == expected


def test_a_dataset_without_labels_exports_empty_labels(platform: Platform, training,
                                                       tmp_path: Path) -> None:
    result = export_dataset(platform, "training", str(tmp_path / "out"), run_id="r1")
    assert manifest_of(result)["labels"] == {"dataset": [], "fields": {}}


def test_table_labels_that_are_not_usage_labels_stay_out(platform: Platform,
                                                         tmp_path: Path) -> None:
    platform.lake.write("plain", pa.table({"x": [1, 2]}))
    record = platform.dataset("plain")
    platform.catalog.update_dataset(record.id, labels=["PROFILE", "C3"])
    result = export_dataset(platform, "plain", str(tmp_path / "out"), run_id="r1")
    assert manifest_of(result)["labels"] == {"dataset": ["C3"], "fields": {}}
