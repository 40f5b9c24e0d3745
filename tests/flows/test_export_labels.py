"""Exported files carry the dataset's data-usage labels: the manifest lists those it had at
export time, so whoever reads the files later knows what they may be used for."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from distillery import Platform
from distillery.flows.export import MANIFEST, export_dataset
from distillery.lake import labels


@pytest.fixture
def training(platform: Platform):
    platform.lake.write("training", pa.table({"userId": ["a", "b", "c"],
                                              "email": ["a@x", "b@x", "c@x"],
                                              "score": [0.1, 0.5, 0.9]}))
    return platform.dataset("training")


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
